"""Static files of the web console (index.html, console.js, console.css)."""
