"""Final-answer extraction on recorded chain-of-thought completions (issues 15 and 19).

For every sample of the recorded files whose released `answer` is readable, read the answer
out of the completion `text` with `accord.consensus.extract.final_answer` and count it
recovered when it equals the released answer read the same way (`read_answer`: "$18" is 18,
"24 - 9 = 15" is 15, "8/3/1997" is 08/03/1997; sports' released 1/0 is yes/no; numbers
compared by value). Prints the share recovered per model and method.

    python benchmarks/extract_recorded.py [DIR] [--methods COT,LtM]
"""

from __future__ import annotations

import gzip
import json
import sys
from collections import defaultdict
from pathlib import Path

from accord.consensus.extract import AnswerKind, final_answer, read_answer
from accord.consensus.normalise import number_value

KIND: dict[str, AnswerKind] = {
    "gsm8k": "number",
    "svamp": "number",
    "multiarith": "number",
    "date": "date",
    "sports": "yesno",
}
_YESNO = {"1": "yes", "0": "no", "yes": "yes", "no": "no"}


def same(kind: AnswerKind, extracted: str | None, released: str) -> bool:
    """Whether the extracted answer is the released one."""
    if extracted is None:
        return False
    if kind == "yesno":
        return _YESNO.get(released.strip().lower()) == extracted
    truth = read_answer(released, kind)
    if kind == "number" and truth is not None:
        a, b = number_value(extracted), number_value(truth)
        if a is not None and b is not None:
            return abs(a - b) < 1e-6
    return truth is not None and extracted == truth


def readable(released: object) -> bool:
    """A released answer that says something (not null, not `[invalid]`)."""
    return released is not None and str(released).strip() not in ("", "[invalid]")


def main(argv: list[str]) -> int:
    """Print the recovered share per task, model and method."""
    args = [a for a in argv[1:] if not a.startswith("--")]
    folder = Path(args[0] if args else "../shared/data/recorded")
    methods = None
    for a in argv[1:]:
        if a.startswith("--methods="):
            methods = set(a.split("=", 1)[1].split(","))
    totals: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    misses: dict[tuple[str, str, str], list[tuple[str, str | None]]] = defaultdict(list)
    for task, kind in KIND.items():
        path = folder / f"faithful_cot_{task}.jsonl.gz"
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                item = json.loads(line)
                for s in item["samples"]:
                    if (methods and s["method"] not in methods) or not readable(s["answer"]):
                        continue
                    got = final_answer(s["text"], kind)
                    cell = totals[(task, s["model"], s["method"])]
                    cell[1] += 1
                    if same(kind, got, str(s["answer"])):
                        cell[0] += 1
                    else:
                        misses[(task, s["model"], s["method"])].append((s["answer"], got))
    print(f"{'task':<11}{'model':<18}{'method':<28}{'recovered':>10}{'of':>7}{'share':>8}")
    for (task, model, method), (ok, n) in sorted(totals.items()):
        print(f"{task:<11}{model:<18}{method:<28}{ok:>10}{n:>7}{100 * ok / n:>7.1f}%")
    by_method: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (_, _, method), (ok, n) in totals.items():
        by_method[method][0] += ok
        by_method[method][1] += n
    print()
    for method, (ok, n) in sorted(by_method.items()):
        print(f"all tasks and models, {method:<26} {ok:>7} of {n:>7} = {100 * ok / n:.2f}%")
    if "--misses" in argv:
        for key, found in sorted(misses.items()):
            print(key, found[:5])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
