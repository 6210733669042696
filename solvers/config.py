"""Run configuration: a TOML file of sections, every key with a documented default.

:data:`SCHEMA` is the single source of the keys, their defaults, their meaning and their checks;
``python -m meanfield config`` prints it as a commented TOML file. :func:`load` reads a file,
applies ``--set key=value`` overrides and validates everything before any work starts; problems
raise :class:`ConfigError` with one line naming the key and what is allowed.
"""
import copy
import difflib
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from meanfield.defaults import PRESETS

from . import registry
from .registry import KINDS, METHODS


class ConfigError(ValueError):
    """A configuration problem, one line naming the key."""


@dataclass(frozen=True)
class Key:
    default: object
    doc: str
    kind: str  # "str", "int", "float", "bool", "floats", "strs", "cadence", "alpha"
    choices: tuple = ()
    low: float | None = None  # inclusive lower bound for numbers
    high: float | None = None  # inclusive upper bound for numbers
    positive: bool = False  # strictly positive



SAMPLE_PRESETS = tuple(PRESETS)
LAWS = ("gaussian_uniform", "pytorch_default", "biweight_cosine")
DENSITY_LAWS = ("gaussian_uniform", "biweight_cosine")  # those the histogram solver can start from

SCHEMA = {
    "samples": {
        "preset": Key("tent8", "a shipped sample set (used when neither file nor x/y is given): tent8 = 8 samples of "
                      "0.8 - 1.5 |x - 0.1|; sine8 = 8 samples of sin(3x) + x/2; gaussian4 = the 4 samples of the mean-field "
                      "validation; square10 = one period of a square wave; sine20 = 20 samples of sin(2 pi x); pairs6 and ramp6 = test "
                      "problems of the regularised flow (data/samples/*.csv)", "str", SAMPLE_PRESETS),
        "file": Key("", "CSV file of samples 'x, y' ('#' comments), relative to the configuration file", "str"),
        "x": Key([], "inline inputs x_j (with y, instead of a file)", "floats"),
        "y": Key([], "inline targets y_j", "floats"),
    },
    "init": {
        "m": Key(100_000, "number of neurons (particles)", "int", low=1),
        "seed": Key(0, "seed of the initial draw", "int", low=0),
        "law": Key("gaussian_uniform", "initial law: gaussian_uniform = r ~ N(0, sigma^2), theta ~ U[0, 2 pi); pytorch_default = "
                   "PyTorch's nn.Linear rule for (a, b, c) (particles and full solvers); biweight_cosine = r = width (2B - 1), B ~ Beta(3, 3), "
                   "theta with density (1 + cos(theta) / 2) / 2 pi", "str", LAWS),
        "sigma": Key(1.0, "standard deviation of r for gaussian_uniform", "float", positive=True, high=1e100),
        "width": Key(1.5, "half-width of the support of r for biweight_cosine", "float", positive=True, high=1e100),
        "dtype": Key("float64", "float type of the particle state: float64 or float32 (reductions stay float64)", "str", ("float64", "float32")),
    },
    "solver": {
        "kind": Key("particles", "particles = canonical particles (r, theta); full = gradient descent on (a, b, c); histogram = "
                    "the mean-field limit on a grid", "str", KINDS),
        "method": Key("euler", "particles: euler, heun or rk4; sliding = Euler steps that stop particles on the rays that "
                      "attract them and slide them there, with an adaptive step (at most dt) under which the loss never rises; "
                      "sliding-heun = the same with Heun's corrector", "str", METHODS),
        "dt": Key(0.01, "particles: time step on the mean-field clock (gradient descent step eta = m dt), the largest step for "
                  "method = sliding; with metric = delta, gradient-flow time of L(a, b, c)", "float", positive=True),
        "lr": Key(0.01, "full: learning rate; the clock counts gradient-flow time t = lr x steps", "float", positive=True),
        "tv": Key(0.0, "particles, histogram: lambda of the TV regulariser lambda * integral |r| dmu (eq. 16)", "float", low=0.0),
        "weight_decay": Key(0.0, "full: lambda_wd of the penalty lambda_wd / 2 sum_i (a_i^2 + b_i^2 + c_i^2), whose optimum is that of "
                            "tv = lambda_wd * alpha", "float", low=0.0),
        "trig_cache": Key("auto", "particles (euler, heun, rk4): keep each particle's cos, sin and arc from one pass to the next, so "
                          "that a step computes them once per stage instead of twice (20 more bytes per particle; the same bits): on, off, "
                          "or auto = on when it takes under half the available memory", "str", ("auto", "on", "off")),
        "metric": Key("canonical", "particles: canonical (the mean-field flow) or delta (the reduced flow of full-parameter "
                      "gradient descent, Proposition 4)", "str", ("canonical", "delta")),
        "delta": Key(0.0, "particles with metric = delta, and full with law gaussian_uniform: the invariant delta_i = c^2 - a^2 - b^2 "
                     "of every neuron", "float"),
        "alpha": Key("sqrt(m)", "full and metric = delta: normalisation alpha(m): a positive number, 'm' or 'sqrt(m)'", "alpha"),
        "train": Key(["a", "b", "c"], "full: the trained layers (['c'] is the kernel regime)", "strs", ("a", "b", "c")),
        "n_r": Key(100, "histogram: cells in r over [-r_max, r_max]", "int", low=2),
        "n_theta": Key(400, "histogram: cells in theta (faces on every boundary ray)", "int", low=1),
        "r_max": Key(6.0, "histogram: the grid covers |r| < r_max", "float", positive=True),
        "order": Key(2, "histogram: 1 = upwind + Euler, 2 = MUSCL + Heun", "int", (1, 2)),
        "cfl": Key(0.9, "histogram: share of the stability limit used by each step", "float", positive=True),
        "substeps": Key(2, "histogram: theta sub-steps of the outer rows per step, each row taking what its |r| needs (the step "
                        "then set by the r-transport; 0 = unsplit, every step set by the angular speed of the outer rows)", "int", low=0),
    },
    "stop": {
        "t_end": Key(100.0, "stop at this time of the solver's clock (mean-field time for particles and histogram)", "float", positive=True),
        "steps": Key(0, "stop after this many steps in all (0: no limit)", "int", low=0),
        "loss_below": Key(0.0, "stop once the data loss 1/2 |rho|^2 is below this (0: off)", "float", low=0.0),
        "gap_below": Key(0.0, "stop once the gap (energy - dual value, a bound of the distance to the optimum of the regularised "
                         "problem) at a history record is below this (0: off)", "float", low=0.0),
        "loss_factor": Key(100.0, "stop as diverged once the loss exceeds this times its start (or 1 if larger) (0: off)", "float", low=0.0),
    },
    "output": {
        "history": Key(0.05, "cadence of the history (t, step, loss, rho): a time of the solver's clock, 'N steps', "
                       "'S s' (wall clock) or 'off'", "cadence"),
        "snapshots": Key(10.0, "cadence of state snapshots in the run file (same forms)", "cadence"),
        "checkpoints": Key("60 s", "cadence of checkpoints (same forms); one is also written at the start and at the end", "cadence"),
        "keep": Key(3, "how many checkpoints to keep (the newest)", "int", low=1),
        "figures": Key(True, "draw the figures into the run folder when the run ends", "bool"),
        "progress": Key(True, "show progress (a bar on a terminal, periodic lines otherwise)", "bool"),
    },
}


def defaults():
    """The default configuration as a nested dict."""
    return {section: {name: copy.deepcopy(key.default) for name, key in keys.items()} for section, keys in SCHEMA.items()}


def load(path=None, overrides=(), base=None):
    """Read a configuration file (None: the defaults), apply ``key=value`` overrides, validate.

    Returns the complete configuration (every key present) as a nested dict. A relative
    ``samples.file`` is resolved against the configuration file's folder.
    """
    config = defaults() if base is None else copy.deepcopy(base)
    if path is not None:
        merge(config, read(path))
    for item in overrides:
        set_key(config, item)
    validate(config)
    return config


def read(path):
    """The keys a configuration file gives (nested dict, not validated), with a relative
    ``samples.file`` resolved against the file's folder."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(f"cannot read the configuration {path}: {err.strerror or err}") from None
    given = parse(text, str(path))
    samples = given.get("samples")
    if isinstance(samples, dict) and "file" in samples:  # one file, or a list of them in a sweep

        def resolved(name):
            return str((path.parent / name).resolve()) if isinstance(name, str) and name and not Path(name).is_absolute() else name

        files = samples["file"]
        samples["file"] = [resolved(f) for f in files] if isinstance(files, list) else resolved(files)
    return given


def parse(text, what="configuration"):
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{what} is not valid TOML: {err}") from None


def merge(config, given):
    """Copy ``given`` (nested dict) into ``config``, rejecting unknown sections and keys."""
    for section, values in given.items():
        if section not in SCHEMA:
            raise ConfigError(f"unknown section [{section}]{_suggest(section, SCHEMA)}; sections are {', '.join(SCHEMA)}")
        if not isinstance(values, dict):
            raise ConfigError(f"[{section}] must be a table of keys")
        for name, value in values.items():
            if name not in SCHEMA[section]:
                raise ConfigError(f"unknown key {section}.{name}{_suggest(name, SCHEMA[section])}; [{section}] has {', '.join(SCHEMA[section])}")
            config[section][name] = value


def set_key(config, item):
    """Apply one ``key=value`` override; ``key`` is ``section.name`` or a name unique across sections."""
    if "=" not in item:
        raise ConfigError(f"--set needs key=value, got {item!r}")
    key, raw = (part.strip() for part in item.split("=", 1))
    section, name = resolve(key)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # a bare word: a string
    config[section][name] = value


def resolve(key):
    """(section, name) of a key written as ``section.name`` or as a unique ``name``."""
    if "." in key:
        section, name = key.split(".", 1)
        if section in SCHEMA and name in SCHEMA[section]:
            return section, name
    else:
        owners = [section for section, keys in SCHEMA.items() if key in keys]
        if len(owners) == 1:
            return owners[0], key
        if len(owners) > 1:
            raise ConfigError(f"key {key!r} is ambiguous: write one of {', '.join(f'{s}.{key}' for s in owners)}")
    every = [f"{s}.{n}" for s, keys in SCHEMA.items() for n in keys]
    raise ConfigError(f"unknown key {key!r}{_suggest(key, every + [n for keys in SCHEMA.values() for n in keys])}")


def _suggest(word, options):
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def stored(text):
    """The configuration stored with a run, as a dict (its sample file need not exist any more)."""
    config = defaults()
    merge(config, parse(text, "the stored configuration"))
    return validate(config, check_files=False)


def validate(config, check_files=True):
    """Check types and values of every key, normalising numbers in place (1e6 -> 1000000 for
    integer keys); then the rules that tie keys together (and that a sample file exists)."""
    for section, keys in SCHEMA.items():
        for name, key in keys.items():
            config[section][name] = _check(f"{section}.{name}", key, config[section][name])
    samples = config["samples"]
    if len(samples["x"]) != len(samples["y"]):
        raise ConfigError(f"samples.x and samples.y must have the same length, got {len(samples['x'])} and {len(samples['y'])}")
    if samples["x"] and samples["file"]:
        raise ConfigError("give the samples as samples.file or as samples.x/y, not both")
    if check_files and samples["file"] and not Path(samples["file"]).is_file():
        raise ConfigError(f"samples.file: no such file {samples['file']}")
    solver, init = config["solver"], config["init"]
    if solver["kind"] == "histogram" and init["law"] not in DENSITY_LAWS:
        raise ConfigError(f"init.law = {init['law']!r} has no density for the histogram solver; use one of {', '.join(DENSITY_LAWS)}")
    try:
        registry.check(config)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    if solver["kind"] == "full" and not solver["train"]:
        raise ConfigError("solver.train must name at least one layer among a, b, c")
    if solver["kind"] == "full" and solver["tv"]:
        raise ConfigError("solver.tv is for particles and histogram; full parameters take solver.weight_decay (tv = weight_decay * alpha)")
    if solver["kind"] != "full" and solver["weight_decay"]:
        raise ConfigError(f"solver.weight_decay is for full parameters; solver.kind = {solver['kind']!r} takes solver.tv")
    if solver["cfl"] > 1:
        raise ConfigError(f"solver.cfl must be in (0, 1] (positivity of the histogram), got {solver['cfl']}")
    if solver["kind"] != "particles" and init["dtype"] != "float64":
        raise ConfigError(f"init.dtype = float32 is for the particles solver only (solver.kind = {solver['kind']!r})")
    return config


def _check(where, key, value):
    kind = key.kind
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {_show(value)}")
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string{_among(key)}, got {_show(value)}")
        if key.choices and value not in key.choices:
            raise ConfigError(f"{where} must be one of {', '.join(map(str, key.choices))}, got {_show(value)}{_suggest(value, key.choices)}")
        return value
    if kind in ("int", "float"):
        number = _number(where, value, kind)
        if key.choices and number not in key.choices:
            raise ConfigError(f"{where} must be one of {', '.join(map(str, key.choices))}, got {_show(value)}")
        if key.positive and not number > 0:
            raise ConfigError(f"{where} must be positive, got {_show(value)}")
        if key.low is not None and not number >= key.low:
            raise ConfigError(f"{where} must be >= {key.low:g}, got {_show(value)}")
        if key.high is not None and not number <= key.high:
            raise ConfigError(f"{where} must be <= {key.high:g} (beyond, squares of r overflow), got {_show(value)}")
        return number
    if kind == "floats":
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list of numbers, got {_show(value)}")
        return [_number(f"{where}[{i}]", v, "float") for i, v in enumerate(value)]
    if kind == "strs":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of strings, got {_show(value)}")
        bad = [v for v in value if v not in key.choices]
        if bad:
            raise ConfigError(f"{where} may hold only {', '.join(key.choices)}, got {_show(bad[0])}")
        return sorted(set(value), key=key.choices.index)
    if kind == "alpha":
        if isinstance(value, str):
            if value not in ("m", "sqrt(m)"):
                raise ConfigError(f"{where} must be a positive number, 'm' or 'sqrt(m)', got {_show(value)}")
            return value
        number = _number(where, value, "float")
        if not number > 0:
            raise ConfigError(f"{where} must be a positive number, 'm' or 'sqrt(m)', got {_show(value)}")
        return number
    if kind == "cadence":
        cadence_of(value, where)
        return value
    raise AssertionError(kind)


def _number(where, value, kind):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where} must be {'an integer' if kind == 'int' else 'a number'}, got {_show(value)}")
    if not math.isfinite(value):
        raise ConfigError(f"{where} must be finite, got {_show(value)}")
    if kind == "int":
        if value != int(value):
            raise ConfigError(f"{where} must be an integer, got {_show(value)}")
        return int(value)
    return float(value)


def _among(key):
    return f" ({', '.join(key.choices)})" if key.choices else ""


def _show(value):
    return json.dumps(value) if isinstance(value, (str, list)) else str(value).lower() if isinstance(value, bool) else repr(value)


def cadence_of(value, where="cadence"):
    """(unit, amount) of a cadence: a number (time of the solver's clock), 'N steps', 'S s' or
    'off'. Unit is one of "t", "steps", "seconds"; 'off' gives (None, None)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(f"{where} must be a positive time, 'N steps', 'S s' or 'off', got {_show(value)}")
        return "t", float(value)
    if isinstance(value, str):
        words = value.split()
        if words == ["off"]:
            return None, None
        units = {"t": "t", "steps": "steps", "step": "steps", "s": "seconds", "seconds": "seconds"}
        if len(words) == 2 and words[1] in units:
            try:
                amount = float(words[0])
            except ValueError:
                amount = math.nan
            unit = units[words[1]]
            if math.isfinite(amount) and amount > 0 and (unit != "steps" or amount == int(amount)):
                return unit, int(amount) if unit == "steps" else amount
    raise ConfigError(f"{where} must be a positive time, 'N steps', 'S s' or 'off', got {_show(value)}")


def render(config=None, comments=True):
    """The configuration as TOML text, each key preceded by its documentation when ``comments``."""
    config = defaults() if config is None else config
    lines = ["# meanfield run configuration. Every key is optional: what is left out takes the default shown.",
             "# Clocks: particles and histogram run on mean-field time; full counts gradient-flow time t = lr x steps."] if comments else []
    for section, keys in SCHEMA.items():
        lines.append(f"\n[{section}]")
        for name, key in keys.items():
            if comments:
                lines.append(f"# {key.doc}")
            lines.append(f"{name} = {toml_value(config[section][name])}")
    return "\n".join(lines).lstrip("\n") + "\n"


def toml_value(value):
    """A value as TOML text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return str(value)
