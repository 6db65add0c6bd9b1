"""Read a campaign file into a validated `Campaign`, with every error pointing at its YAML line."""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from dialer.campaign.schema import Campaign
from dialer.errors import CampaignInvalid, DialerError, Location

PathKey = tuple[str | int, ...]
_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# Credentials have recognisable shapes; a campaign file is reviewed in public pull requests.
_SECRET_VALUE_RES = [
    (re.compile(r"AIza[0-9A-Za-z_\-]{30,}"), "a Google API key"),
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{20,}"), "an API secret key"),
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]+"), "a JWT"),
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), "an AWS access key"),
    (re.compile(r"\b(?:ghp|gho|ghs|xox[abp])_?[A-Za-z0-9\-]{20,}"), "an access token"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
]
_SECRET_KEY_RE = re.compile(r"(secret|password|passwd|api_?key|token|credential)", re.I)


@dataclass(frozen=True)
class TemplateSource:
    """A template's text and where it came from, so a template error names the file line."""

    text: str
    path: str
    line_offset: int  # file line = line_offset + template line
    field: str


@dataclass
class LoadedCampaign:
    """A validated campaign with the file facts the rest of dialer needs."""

    path: Path
    campaign: Campaign
    text: str
    positions: dict[PathKey, tuple[int, int]]
    templates: dict[str, TemplateSource]
    revision: str
    files: list[Path] = field(default_factory=list)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def resolve(self, relative: str) -> Path:
        p = Path(os.path.expanduser(relative))
        return p if p.is_absolute() else (self.base_dir / p)

    def locate(self, key: PathKey) -> Location:
        return _locate(str(self.path), self.positions, key)


def project_root(path: Path) -> Path:
    """The project a campaign belongs to: the parent of `campaigns/`, else the file's folder."""
    folder = path.resolve().parent
    for candidate in (folder, *folder.parents):
        if (candidate / "dialer.yaml").exists() or (candidate / "campaigns").is_dir():
            return candidate
        if candidate.name != "campaigns":
            break
    return folder.parent if folder.name == "campaigns" else folder


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a .env file (comments, `export`, quotes); missing file is empty."""
    values: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return values
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def environment_for(path: Path) -> dict[str, str]:
    """Process environment over the project's `.env` (the real environment wins)."""
    env = read_dotenv(project_root(path) / ".env")
    env.update(read_dotenv(Path.cwd() / ".env"))
    env.update(os.environ)
    return env


def _locate(path: str, positions: Mapping[PathKey, tuple[int, int]], key: PathKey) -> Location:
    key = tuple(key)
    while key and key not in positions:
        key = key[:-1]
    line, col = positions.get(key, (1, 1))
    return Location(path, line, col)


def _field_name(key: PathKey) -> str:
    out = ""
    for part in key:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# libyaml's loader (when PyYAML was built with it) composes several times faster, with the
# same node marks; the pure-Python one is the fallback.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _compose(text: str, shown: str, loader_class: type) -> tuple[_Walker, Any]:
    """Parse YAML text into data, noting node positions. With the pure-Python loader a YAML
    error becomes a one-line DialerError; with the C loader it propagates, and the caller
    parses again with the Python loader for that wording."""
    loader = None
    try:
        loader = loader_class(text)  # the Python reader refuses control characters right here
        node = loader.get_single_node()
        if node is None:
            raise DialerError("campaign file is empty", Location(shown, 1, 1))
        walker = _Walker(loader, shown)
        return walker, walker.walk(node)
    except yaml.MarkedYAMLError as exc:
        if loader_class is not yaml.SafeLoader:
            raise
        mark = exc.problem_mark or exc.context_mark
        where = Location(shown, mark.line + 1, mark.column + 1) if mark else Location(shown)
        problem = exc.problem or exc.context or "invalid YAML"
        raise DialerError(f"invalid YAML: {problem}", where) from None
    except yaml.reader.ReaderError as exc:
        if loader_class is not yaml.SafeLoader:
            raise
        pos = exc.position if isinstance(exc.position, int) else 0
        line = text.count("\n", 0, pos) + 1
        column = pos - (text.rfind("\n", 0, pos) + 1) + 1
        code = ord(exc.character) if isinstance(exc.character, str) else int(exc.character)
        raise DialerError(
            f"invalid YAML: character #x{code:04x} is not allowed",
            Location(shown, line, column),
            "remove the control character",
        ) from None
    except yaml.YAMLError as exc:
        if loader_class is not yaml.SafeLoader:
            raise
        raise DialerError(f"invalid YAML: {exc}", Location(shown)) from None
    finally:
        if loader is not None:
            loader.dispose()


class _Walker:
    """Turns a composed YAML node tree into Python data, noting positions and duplicate keys."""

    def __init__(self, loader: yaml.SafeLoader, path: str) -> None:
        self.loader = loader
        self.path = path
        self.positions: dict[PathKey, tuple[int, int]] = {}
        self.key_positions: dict[PathKey, tuple[int, int]] = {}
        self.block_scalars: set[PathKey] = set()
        self.errors: list[DialerError] = []

    def walk(self, node: yaml.Node, key: PathKey = ()) -> Any:
        self.positions[key] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for k_node, v_node in node.value:
                k = self.loader.construct_object(k_node, deep=True)
                if not isinstance(k, str | int | float | bool) or k is None:
                    k = str(k)
                child = (*key, k)
                pos = (k_node.start_mark.line + 1, k_node.start_mark.column + 1)
                if k in out:
                    self.errors.append(
                        DialerError(
                            f"duplicate key {k!r} (first on line {self.key_positions[child][0]})",
                            Location(self.path, *pos),
                        )
                    )
                self.key_positions[child] = pos
                out[k] = self.walk(v_node, child)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.walk(item, (*key, i)) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
            self.block_scalars.add(key)
        return self.loader.construct_object(node, deep=True)


def _interpolate(
    data: Any, key: PathKey, env: Mapping[str, str], errors: list[tuple[PathKey, str, str]]
) -> Any:
    if isinstance(data, dict):
        return {k: _interpolate(v, (*key, k), env, errors) for k, v in data.items()}
    if isinstance(data, list):
        return [_interpolate(v, (*key, i), env, errors) for i, v in enumerate(data)]
    if not isinstance(data, str) or "${" not in data:
        return data

    def sub(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if name in env and env[name] != "":
            return env[name]
        if default is not None:
            return default
        errors.append(
            (
                key,
                f"environment variable {name} is not set",
                f"set it in the environment or .env, or write ${{{name}:-default}}",
            )
        )
        return m.group(0)

    return _ENV_RE.sub(sub, data)


def _find_secrets(data: Any, key: PathKey, found: list[tuple[PathKey, str]]) -> None:
    if isinstance(data, dict):
        for k, v in data.items():
            if (
                isinstance(k, str)
                and _SECRET_KEY_RE.search(k)
                and isinstance(v, str)
                and v.strip()
                and not _ENV_RE.fullmatch(v.strip())
            ):
                found.append(((*key, k), "a credential"))
            else:
                _find_secrets(v, (*key, k), found)
    elif isinstance(data, list):
        for i, v in enumerate(data):
            _find_secrets(v, (*key, i), found)
    elif isinstance(data, str):
        for pattern, what in _SECRET_VALUE_RES:
            if pattern.search(data):
                found.append((key, what))
                return


def _did_you_mean(word: str, model: type[BaseModel] | None) -> str | None:
    if model is None:
        return None
    close = difflib.get_close_matches(word, list(model.model_fields), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def _model_at(key: PathKey) -> type[BaseModel] | None:
    """The pydantic model that owns the mapping at `key` (for 'did you mean')."""
    model: Any = Campaign
    for part in key:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(part) if model else None
        if info is None:
            return None
        ann = info.annotation
        for candidate in (ann, *getattr(ann, "__args__", ())):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                model = candidate
                break
            inner = getattr(candidate, "__args__", ())
            found = [a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)]
            if found:
                model = found[0]
                break
        else:
            return None
    return model


def _pydantic_errors(
    exc: ValidationError, path: str, walker: _Walker, data: Any
) -> list[DialerError]:
    out: list[DialerError] = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        # pydantic puts union/tagged branches in loc; keep the parts that are real YAML keys
        key: PathKey = ()
        node: Any = data
        for part in loc:
            if isinstance(node, dict) and part in node:
                node, key = node[part], (*key, part)
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                node, key = node[part], (*key, part)
        kind = err["type"]
        hint = None
        if kind == "extra_forbidden":
            word = str(loc[-1])
            key = (*key, word) if key[-1:] != (word,) else key
            message = f"unknown key {word!r}"
            hint = _did_you_mean(word, _model_at(key[:-1]))
            position = walker.key_positions.get(key) or walker.positions.get(key)
            location = (
                Location(path, *position) if position else _locate(path, walker.positions, key)
            )
            out.append(DialerError(message, location, hint, field=_field_name(key)))
            continue
        if kind == "missing":
            missing = str(loc[-1])
            message = f"{missing!r} is required"
            field_key = key
        else:
            msg = err["msg"].removeprefix("Value error, ")
            got = err.get("input")
            msg = msg[0].lower() + msg[1:] if msg[:1].isupper() and msg[1:2].islower() else msg
            if "got" not in msg and isinstance(got, str | int | float | bool):
                msg = f"{msg}, got {got!r}"
            message = msg
            field_key = key
        out.append(
            DialerError(
                message,
                _locate(path, walker.positions, field_key),
                hint,
                field=_field_name(field_key) or None,
            )
        )
    return out


def load_campaign(path: str | Path, env: Mapping[str, str] | None = None) -> LoadedCampaign:
    """Load and validate one campaign file; raise `CampaignInvalid` with every error found."""
    path = Path(path)
    shown = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DialerError("campaign file not found", Location(shown)) from None
    except IsADirectoryError:
        raise DialerError("expected a campaign file, got a directory", Location(shown)) from None
    except OSError as exc:
        raise DialerError(f"can not read campaign file: {exc.strerror}", Location(shown)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DialerError(
            "campaign file is not valid UTF-8", Location(shown, line), "save it as UTF-8"
        ) from None

    try:
        walker, data = _compose(text, shown, _Loader)
    except yaml.YAMLError:
        # libyaml's messages are terser; the pure-Python parser words the same error better
        walker, data = _compose(text, shown, yaml.SafeLoader)
    if not isinstance(data, dict):
        raise DialerError(
            f"expected a mapping of campaign settings, got {type(data).__name__}",
            Location(shown, 1, 1),
        )

    errors: list[DialerError] = list(walker.errors)
    secrets: list[tuple[PathKey, str]] = []
    _find_secrets(data, (), secrets)
    for key, what in secrets:
        errors.append(
            DialerError(
                f"looks like {what} written literally in the campaign file",
                _locate(shown, walker.positions, key),
                "move it to the environment or .env and write ${NAME} here",
                field=_field_name(key),
            )
        )
    env_errors: list[tuple[PathKey, str, str]] = []
    data = _interpolate(data, (), env if env is not None else environment_for(path), env_errors)
    for key, message, hint in env_errors:
        errors.append(
            DialerError(message, _locate(shown, walker.positions, key), hint, _field_name(key))
        )

    campaign: Campaign | None = None
    try:
        campaign = Campaign.model_validate(data)
    except ValidationError as exc:
        errors.extend(_pydantic_errors(exc, shown, walker, data))
    if errors or campaign is None:
        errors.sort(key=lambda e: (e.location.line or 0) if e.location else 0)
        raise CampaignInvalid(errors)

    templates, files, file_errors = _template_sources(path, campaign, walker)
    if file_errors:
        raise CampaignInvalid(file_errors)
    digest = hashlib.sha256(raw)
    for f in files:
        digest.update(b"\0" + str(f.name).encode() + b"\0" + f.read_bytes())
    return LoadedCampaign(
        path=path,
        campaign=campaign,
        text=text,
        positions=walker.positions,
        templates=templates,
        revision=digest.hexdigest()[:12],
        files=files,
    )


_TEMPLATE_FIELDS = ("instructions", "opening", "voicemail")


def _template_sources(
    path: Path, campaign: Campaign, walker: _Walker
) -> tuple[dict[str, TemplateSource], list[Path], list[DialerError]]:
    """Every prompt template (agent and variants), inline or from its file."""
    shown = str(path)
    sources: dict[str, TemplateSource] = {}
    files: list[Path] = []
    errors: list[DialerError] = []
    owners: list[tuple[str, PathKey, Any]] = [("agent", ("agent",), campaign.agent)]
    owners += [(f"variants.{v.name}", ("variants", i), v) for i, v in enumerate(campaign.variants)]
    for prefix, owner_key, owner in owners:
        for name in _TEMPLATE_FIELDS:
            inline = getattr(owner, name, None)
            file_ref = getattr(owner, f"{name}_file", None)
            label = f"{prefix}.{name}"
            if inline is not None:
                key = (*owner_key, name)
                line, _ = walker.positions.get(key, (1, 1))
                offset = line if key in walker.block_scalars else line - 1
                sources[label] = TemplateSource(inline, shown, offset, label)
            elif file_ref is not None:
                key = (*owner_key, f"{name}_file")
                target = Path(os.path.expanduser(file_ref))
                target = target if target.is_absolute() else path.parent / target
                try:
                    body = target.read_text(encoding="utf-8")
                except FileNotFoundError:
                    errors.append(
                        DialerError(
                            f"prompt file not found: {file_ref}",
                            _locate(shown, walker.positions, key),
                            f"paths are relative to the campaign file's folder ({path.parent})",
                            field=_field_name(key),
                        )
                    )
                    continue
                except (OSError, UnicodeDecodeError) as exc:
                    errors.append(
                        DialerError(
                            f"can not read prompt file {file_ref}: {exc}",
                            _locate(shown, walker.positions, key),
                            field=_field_name(key),
                        )
                    )
                    continue
                files.append(target)
                sources[label] = TemplateSource(body, str(target), 0, label)
    return sources, files, errors
