def render_svg(instance, result):
    return ""
