"""Is the sender's domain vouched for? DKIM (dkimpy) or a trusted Authentication-Results.

Used when JCBOT_REQUIRE_DKIM is set: a reply token proves which member and proposal a
reply is for, this proves the From domain really sent it. DNS is reached only through
`dnsfunc` (dkimpy's argument), so tests verify against keys they generate.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email import message_from_bytes
from email.policy import compat32
from email.utils import getaddresses

import dkim as dkimpy
from dkim.dnsplug import get_txt

DnsFunc = Callable[..., bytes | None]


@dataclass(frozen=True)
class AuthResult:
    """Whether the sender's domain is authenticated, and a sentence saying why."""

    ok: bool
    reason: str


def aligned(signer: str, from_domain: str) -> bool:
    """Return whether a signing domain is the From domain or one of its parent domains."""
    signer, from_domain = signer.lower().rstrip("."), from_domain.lower().rstrip(".")
    return bool(signer) and (from_domain == signer or from_domain.endswith("." + signer))


def _dkim_signatures(raw: bytes, from_domain: str, dnsfunc: DnsFunc) -> tuple[str | None, list[str]]:
    """Return (the aligned domain whose signature verified, notes on every other signature)."""
    try:
        verifier = dkimpy.DKIM(raw, minkey=1024)
    except dkimpy.DKIMException as exc:
        return None, [f"the message cannot be read for DKIM: {exc}"]
    count = sum(1 for name, _ in verifier.headers if name.lower() == b"dkim-signature")
    notes = []
    for idx in range(count):
        try:
            ok = verifier.verify(idx=idx, dnsfunc=dnsfunc)
        except dkimpy.DKIMException as exc:
            notes.append(f"DKIM signature {idx + 1}: {exc}")
            continue
        domain = (verifier.domain or b"").decode("ascii", "replace").lower()
        if not ok:
            notes.append(f"DKIM signature {idx + 1} (d={domain}) does not verify")
        elif b"l" in (verifier.signature_fields or {}):
            # l= signs only a prefix of the body: text appended after it would pass as signed.
            notes.append(f"DKIM signature {idx + 1} (d={domain}) covers only part of the body (l=)")
        elif not aligned(domain, from_domain):
            notes.append(f"DKIM signature {idx + 1} is valid but for d={domain}, not {from_domain}")
        else:
            return domain, notes
    if not count:
        notes.append("no DKIM signature")
    return None, notes


_COMMENT = re.compile(r"\([^()]*\)")
_RESULT = re.compile(r"^\s*([a-z0-9_-]+)\s*=\s*([a-z]+)\b(.*)$", re.IGNORECASE | re.DOTALL)
_PROPERTY = re.compile(r"\b([a-z]+)\.([a-z0-9_-]+)\s*=\s*(\"[^\"]*\"|[^\s;]+)", re.IGNORECASE)


def _results_pass(value: str, from_domain: str) -> str | None:
    """Return the passing method of one Authentication-Results value for from_domain, else None."""
    for resinfo in value.split(";")[1:]:
        found = _RESULT.match(resinfo)
        if not found or found.group(2).lower() != "pass":
            continue
        method = found.group(1).lower()
        props = {f"{p.lower()}.{k.lower()}": v.strip('"').lower() for p, k, v in _PROPERTY.findall(found.group(3))}
        if method == "dkim":
            signer = props.get("header.d") or props.get("header.i", "").rpartition("@")[2]
            if aligned(signer, from_domain):
                return f"dkim=pass header.d={signer}"
        elif method == "dmarc" and props.get("header.from", "").rstrip(".") == from_domain:
            return f"dmarc=pass header.from={from_domain}"
    return None


def _trusted_results(values: Iterable[str], from_domain: str, trusted: set[str]) -> tuple[str | None, list[str]]:
    notes = []
    for raw in values:
        value = _COMMENT.sub(" ", " ".join(raw.split()))
        authserv_id = (value.split(";", 1)[0].split() or [""])[0].lower()
        if authserv_id not in trusted:
            notes.append(f"Authentication-Results from untrusted {authserv_id or 'unnamed'} server ignored")
            continue
        passed = _results_pass(value, from_domain)
        if passed:
            return f"Authentication-Results from {authserv_id}: {passed}", notes
        notes.append(f"Authentication-Results from {authserv_id} reports no pass for {from_domain}")
    return None, notes


def check_sender_authenticated(
    raw_bytes: bytes, from_domain: str, trusted_authserv_ids: set[str], *, dnsfunc: DnsFunc = get_txt
) -> AuthResult:
    """Pass when an aligned DKIM signature verifies or a trusted server reports dkim/dmarc=pass."""
    from_domain = from_domain.lower().rstrip(".")
    headers = message_from_bytes(raw_bytes, policy=compat32)
    froms = headers.get_all("From", [])
    if len(froms) != 1:
        # Two From headers let a signature cover one address while a reader shows the other.
        return AuthResult(False, f"the message has {len(froms)} From headers; exactly one is needed")
    senders = getaddresses([str(froms[0])])
    header_domain = senders[0][1].rpartition("@")[2].lower() if len(senders) == 1 else ""
    if header_domain != from_domain:
        return AuthResult(False, f"the From address is not in {from_domain}")
    signer, dkim_notes = _dkim_signatures(raw_bytes, from_domain, dnsfunc)
    if signer:
        return AuthResult(True, f"DKIM signature of {signer} verified for {from_domain}")
    # The MTA must remove Authentication-Results naming its own authserv-id from incoming
    # mail (RFC 8601 section 5); otherwise a sender could write a passing one itself.
    trusted = {t.lower() for t in trusted_authserv_ids}
    passed, ar_notes = _trusted_results(headers.get_all("Authentication-Results", []), from_domain, trusted)
    if passed:
        return AuthResult(True, passed)
    if not headers.get_all("Authentication-Results"):
        ar_notes.append("no Authentication-Results header")
    return AuthResult(False, f"sender {from_domain} is not authenticated: " + "; ".join(dkim_notes + ar_notes))
