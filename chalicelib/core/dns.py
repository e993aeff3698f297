"""Looking up DNS TXT records (custom-domain ownership checks).

Backends: `dns` (dnspython, imported on first use) in AWS; `local` on local stages and
in tests, a stand-in that reads records from DNS_RECORDS (JSON in the environment) or
from a JSON file (DNS_RECORDS_FILE, default <VAR_DIR>/dns/<stage>.json):

    {"_mewayz-verify.shop.example.com": ["3f2a..."]}

`python -m chalicelib.core.dns set NAME VALUE` writes one into the file (scripts/dev users
verify a custom domain that way); `python -m chalicelib.core.dns unset NAME` removes it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from chalicelib.core import config
from chalicelib.core.errors import DependencyUnavailable


class DnsUnavailable(DependencyUnavailable):
    def __init__(self, message: str = "DNS did not answer. Try again in a moment.") -> None:
        super().__init__(message, dependency="dns")


def backend() -> str:
    s = config.get_settings()
    return s.dns_backend or ("local" if s.is_local else "dns")


def records_file() -> Path:
    s = config.get_settings()
    return Path(s.dns_records_file) if s.dns_records_file else s.runtime_dir / "dns" / f"{s.stage}.json"


def _local_records() -> dict[str, list[str]]:
    raw = os.environ.get("DNS_RECORDS")
    if not raw:
        path = records_file()
        raw = path.read_text() if path.is_file() else "{}"
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        str(k).lower().rstrip("."): [str(v) for v in (vs if isinstance(vs, list) else [vs])] for k, vs in data.items()
    }


def txt_records(name: str) -> list[str]:
    """The TXT strings published at `name` ([] when there are none or the name does not exist)."""
    name = name.lower().rstrip(".")
    if backend() == "local":
        return _local_records().get(name, [])
    import dns.exception
    import dns.resolver

    try:
        answer = dns.resolver.resolve(name, "TXT", lifetime=3.0)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
        return []
    except dns.exception.DNSException as exc:
        raise DnsUnavailable() from exc
    return [b"".join(r.strings).decode("utf-8", errors="replace") for r in answer]


def set_local_txt(name: str, values: list[str] | None) -> None:
    """Write (or with None remove) a record in the local stand-in's file."""
    path = records_file()
    data: dict[str, list[str]] = {}
    if path.is_file():
        try:
            data = json.loads(path.read_text())
        except ValueError:
            data = {}
    key = name.lower().rstrip(".")
    if values is None:
        data.pop(key, None)
    else:
        data[key] = list(values)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    tmp.replace(path)


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "set":
        set_local_txt(argv[1], [argv[2]])
    elif len(argv) == 2 and argv[0] == "unset":
        set_local_txt(argv[1], None)
    else:
        print("usage: python -m chalicelib.core.dns set NAME VALUE | unset NAME", file=sys.stderr)
        return 2
    print(f"{records_file()}: {json.dumps(_local_records())}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
