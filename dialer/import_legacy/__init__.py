"""Legacy import: the old Agentic Dialer's prompt modules and campaign registry as campaign files.

The legacy system kept a campaign as a Python module with two string constants (agent
instructions and the session script), listed in `agent.py`'s `CAMPAIGNS` mapping (built-in) and
in `campaigns.json` (created through its dashboard), and chose one per agent process with
`CAMPAIGN_PROMPT_MODULE` / `CAMPAIGN_AGENT_NAME` / `CAMPAIGN_SESSION_NAME`. Modules are read with
`ast` and never imported: a constant is taken only when it is a literal string (plain,
triple-quoted, concatenated, `.strip()`-ed or dedented); anything computed is reported.

Each (module, agent constant, session constant) becomes `campaigns/<stem>.yaml` with its texts in
`campaigns/prompts/<stem>_agent.md` and `<stem>_session.md`, validated before it is kept.
`campaigns/.legacy.json` maps the legacy selectors to those files; `legacy_campaign` reads it.

Modules: `literal` (string constants by `ast`), `registry` (agent.py, campaigns.json, module
files), `read` (a legacy folder's campaigns), `write` (campaign and prompt files, the report),
`select` (`.legacy.json`, `legacy_campaign`), `importer` (`import_legacy`).
"""

from dialer.import_legacy.importer import LEGACY_COLUMNS, import_legacy
from dialer.import_legacy.literal import read_constants
from dialer.import_legacy.read import Legacy, LegacyCampaign, read_legacy
from dialer.import_legacy.registry import (
    AGENT_CONST,
    DEFAULT_MODULE,
    ENV_AGENT,
    ENV_MODULE,
    ENV_SESSION,
    SESSION_CONST,
)
from dialer.import_legacy.select import MAPPING_FILE, legacy_campaign
from dialer.import_legacy.write import ImportReport, escape_jinja

__all__ = [
    "AGENT_CONST",
    "DEFAULT_MODULE",
    "ENV_AGENT",
    "ENV_MODULE",
    "ENV_SESSION",
    "LEGACY_COLUMNS",
    "MAPPING_FILE",
    "SESSION_CONST",
    "ImportReport",
    "Legacy",
    "LegacyCampaign",
    "escape_jinja",
    "import_legacy",
    "legacy_campaign",
    "read_constants",
    "read_legacy",
]
