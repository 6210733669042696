"""Reference pages generated from the code at each docs build, so that they cannot drift."""
from pathlib import Path


def write_config_reference(path: Path) -> None:
    """Every configuration key of :data:`solvers.config.SCHEMA` with its default and meaning."""
    from solvers import config as cfg

    lines = ["<!-- generated from solvers.config.SCHEMA by docs/reference_pages.py at each build: do not edit -->", ""]
    for section, keys in cfg.SCHEMA.items():
        lines += [f"## `[{section}]`", "", "| key | default | meaning |", "|---|---|---|"]
        for name, key in keys.items():
            default = cfg.toml_value(key.default).replace("|", "\\|")
            doc = key.doc.replace("|", "\\|")
            if key.choices:
                doc += f" (one of {', '.join(f'`{c}`' for c in key.choices)})"
            lines.append(f"| `{name}` | `{default}` | {doc} |")
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
