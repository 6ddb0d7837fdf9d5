"""SVG drawing of an allocation: agents on the left, tasks on the right, one line per assignment."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from solvers.task_allocation.schema import Instance

#: Most agents and tasks drawn; larger instances are cut with a note.
MAX_DRAWN_AGENTS = 120
MAX_DRAWN_TASKS = 60
ROW = 18
WIDTH = 560


def _assignments(result: Any) -> tuple[dict[str, str], set[str]]:
    """agent id -> task id and the completed task ids, read tolerantly from an API result object."""
    solution = result.get("solution") if isinstance(result, dict) else None
    serving: dict[str, str] = {}
    completed: set[str] = set()
    if not isinstance(solution, dict):
        return serving, completed
    assignments = solution.get("assignments")
    if isinstance(assignments, dict):
        for task_id, agent_ids in assignments.items():
            if isinstance(agent_ids, list):
                for agent_id in agent_ids:
                    if isinstance(agent_id, str):
                        serving.setdefault(agent_id, str(task_id))
    listed = solution.get("completed")
    if isinstance(listed, list):
        completed = {task_id for task_id in listed if isinstance(task_id, str)}
    return serving, completed


def render_svg(instance: Instance, result: Any) -> str:
    """The allocation in ``result["solution"]`` as a standalone SVG document."""
    serving, completed = _assignments(result)
    agents = instance.agent_ids[:MAX_DRAWN_AGENTS]
    tasks = instance.task_ids[:MAX_DRAWN_TASKS]
    agent_y = {agent_id: 40 + i * ROW for i, agent_id in enumerate(agents)}
    task_y = {task_id: 40 + j * ROW * max(1, len(agents) // max(1, len(tasks))) for j, task_id in enumerate(tasks)}
    height = max([*agent_y.values(), *task_y.values(), 40]) + 40
    objective = result.get("objective") if isinstance(result, dict) else None
    title = "task allocation" + (f" — profit {objective:g}" if isinstance(objective, int | float) else "")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11">',
        f'<text x="10" y="18" font-size="13">{escape(title)}</text>',
    ]
    if len(agents) < instance.n_agents or len(tasks) < instance.n_tasks:
        parts.append(
            f'<text x="10" y="{height - 12}">showing {len(agents)} of {instance.n_agents} agents, '
            f"{len(tasks)} of {instance.n_tasks} tasks</text>"
        )
    for agent_id, task_id in serving.items():
        if agent_id in agent_y and task_id in task_y:
            parts.append(
                f'<line x1="150" y1="{agent_y[agent_id]}" x2="400" y2="{task_y[task_id]}" '
                f'stroke="{"#2a7" if task_id in completed else "#c44"}" stroke-width="1.2"/>'
            )
    for agent_id, y in agent_y.items():
        fill = "#333" if agent_id in serving else "#bbb"
        parts.append(f'<circle cx="150" cy="{y}" r="4" fill="{fill}"/>')
        parts.append(f'<text x="140" y="{y + 4}" text-anchor="end">{escape(agent_id[:24])}</text>')
    for task_id, y in task_y.items():
        fill = "#bfe8cf" if task_id in completed else "#eee"
        parts.append(f'<rect x="400" y="{y - 7}" width="14" height="14" fill="{fill}" stroke="#555"/>')
        parts.append(f'<text x="422" y="{y + 4}">{escape(task_id[:24])}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
