#!/usr/bin/env python3
"""Export the deployable contracts' ABI and bytecode for the Python package.

Reads forge's build output (``out/<Name>.sol/<Name>.json``) and writes
``src/sf_mcp/chain/artifacts/<Name>.json`` as
``{"abi": [...], "bytecode": "0x...", "contractName": ..., "deployedBytecode": "0x..."}``
with sorted keys, two-space indentation and a final newline, so that freshness
is a byte comparison.

Usage (from contracts/, after ``forge build``)::

    python3 tools/export_artifacts.py            # write the artifacts
    python3 tools/export_artifacts.py --check    # exit 1 naming every stale or missing file

Standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

CONTRACTS_DIR = Path(__file__).resolve().parent.parent
DEFAULT_OUT = CONTRACTS_DIR / "out"
DEFAULT_DEST = CONTRACTS_DIR.parent / "src" / "sf_mcp" / "chain" / "artifacts"

# Contract name -> source file name (forge writes out/<source file>/<contract>.json).
CONTRACTS = {
    "SonicAIGenerationPayment": "SonicAIGenerationPayment.sol",
    "BanditKidzStaking": "BanditKidzStaking.sol",
    "GenerationVotingAndLeaderboard": "GenerationVotingAndLeaderboard.sol",
    "MockUSDC": "MockUSDC.sol",
    "BanditKidz": "BanditKidz.sol",
    # Development/test only: an EIP-1271 contract wallet (tests deploy it on the embedded chain).
    "MockSmartWallet": "MockSmartWallet.sol",
}


def _hex(value: object, name: str, field: str) -> str:
    obj = value.get("object") if isinstance(value, dict) else value
    if not isinstance(obj, str) or not obj:
        raise SystemExit(f"export_artifacts: {name}: no {field} in forge output (is it abstract?)")
    return obj if obj.startswith("0x") else "0x" + obj


def render(out_dir: Path, name: str, source: str) -> str:
    """Return the artifact text for contract ``name`` from forge's output."""
    path = out_dir / source / f"{name}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SystemExit(f"export_artifacts: {path} not found; run `forge build` first") from None
    artifact = {
        "contractName": name,
        "abi": data["abi"],
        "bytecode": _hex(data.get("bytecode"), name, "bytecode"),
        "deployedBytecode": _hex(data.get("deployedBytecode"), name, "deployedBytecode"),
    }
    return json.dumps(artifact, indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 if stale")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="forge out directory")
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="artifact directory")
    args = parser.parse_args(argv)

    stale: list[str] = []
    if not args.check:
        args.dest.mkdir(parents=True, exist_ok=True)
    for name, source in CONTRACTS.items():
        text = render(args.out, name, source)
        target = args.dest / f"{name}.json"
        if args.check:
            try:
                current = target.read_bytes()
            except FileNotFoundError:
                stale.append(f"{target} is missing")
                continue
            if current != text.encode("utf-8"):
                stale.append(f"{target} is stale (differs from the build of contracts/src)")
        else:
            if not target.exists() or target.read_bytes() != text.encode("utf-8"):
                target.write_bytes(text.encode("utf-8"))
                print(f"wrote {target}")
    if stale:
        for line in stale:
            print(f"check-artifacts: {line}", file=sys.stderr)
        print("check-artifacts: run `make -C contracts artifacts` and commit the result", file=sys.stderr)
        return 1
    if args.check:
        print(f"check-artifacts: {len(CONTRACTS)} artifacts match the sources")
    return 0


if __name__ == "__main__":
    sys.exit(main())
