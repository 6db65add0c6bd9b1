"""`dialer init`: lay out a new project with a sample lead list and an example campaign."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

GITIGNORE = "runs/\n.env\n"
ENV_EXAMPLE = """\
# Copy to .env and fill in; .env is git-ignored. Campaign files read these as ${NAME}.
# LiveKit project (runner and `dialer agent` workers; reports are signed with the secret)
LIVEKIT_URL=
LIVEKIT_API_KEY=
LIVEKIT_API_SECRET=
# Gemini Live for the workers
GOOGLE_API_KEY=
# Outbound SIP: the trunk campaigns use, and what `dialer trunk create` needs to make one
SIP_OUTBOUND_TRUNK_ID=
SIP_CALLER_ID=
SIP_ADDRESS=
SIP_NUMBERS=
SIP_USERNAME=
SIP_PASSWORD=
# Where workers POST call reports when they are not on the runner's machine
DIALER_REPORT_URL=
"""


def _files() -> dict[str, str]:
    from dialer.campaign.schema import json_schema

    root = resources.files("dialer.scaffold")
    out = {}
    for folder in ("campaigns", "leads"):
        for item in root.joinpath(folder).iterdir():
            if item.is_file():
                out[f"{folder}/{item.name}"] = item.read_text(encoding="utf-8")
    out["campaigns/campaign.schema.json"] = json.dumps(json_schema(), indent=2) + "\n"
    out["campaigns/tests.schema.json"] = json.dumps(json_schema(tests=True), indent=2) + "\n"
    out["runs/.gitignore"] = "*\n!.gitignore\n"
    out[".gitignore"] = GITIGNORE
    out[".env.example"] = ENV_EXAMPLE
    return out


def init_project(directory: Path) -> list[str]:
    """Write the scaffold into `directory`, never overwriting a file; say what was done."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = []
    for rel, text in sorted(_files().items()):
        target = directory / rel
        if target.exists():
            lines.append(f"kept     {target} (already there)")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        lines.append(f"created  {target}")
    where = "" if directory.resolve() == Path.cwd().resolve() else f"cd {directory} && "
    lines += [
        "",
        "next:",
        f"  {where}dialer validate",
        f"  {where}dialer plan campaigns/example.yaml",
        f"  {where}dialer render campaigns/example.yaml --lead 1",
    ]
    return lines
