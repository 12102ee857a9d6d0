"""`jcbot committee|member|cochair|alternate ...`: the committee and its roster."""
from __future__ import annotations

import sys

import typer
from sqlmodel import select

from jcbot.cli.common import actor, context, load_rules, refusals, table
from jcbot.services import roster as svc
from jcbot.services.roster_log import committee_rules, load_roster
from jcbot.store.models import Committee, Member

committee_app = typer.Typer(help="Joint Committees: create, list, show.", no_args_is_help=True)
member_app = typer.Typer(help="Members: add, remove, update, list.", no_args_is_help=True)
cochair_app = typer.Typer(help="Co-chairs: record an election.", no_args_is_help=True)
alternate_app = typer.Typer(help="Alternates of the co-chairs: set, revoke.", no_args_is_help=True)


@committee_app.command("create")
def committee_create(
    slug: str = typer.Argument(..., help="Short id, e.g. japan-mongolia."),
    rules: str = typer.Option(..., "--rules", help="Rules file path or shipped name."),
) -> None:
    """Create a committee from a rules file (its text is kept with the committee)."""
    _, path = load_rules(rules)
    with refusals():
        c = svc.create_committee(context(create=True), slug, path.read_text(encoding="utf-8"), str(path), actor())
    typer.echo(f"created committee {c.slug}: {c.name} ({c.timezone}, code {c.code})")


@committee_app.command("list")
def committee_list() -> None:
    """Every committee in the database."""
    with context().read() as tx:
        rows = [[c.slug, c.name, c.code, c.timezone, c.rules_source] for c in tx.session.exec(select(Committee).order_by(Committee.slug))]
    typer.echo(table(rows, ["id", "name", "code", "timezone", "rules"]))


@committee_app.command("show")
def committee_show(slug: str) -> None:
    """A committee: its rules, co-chairs, alternates and members."""
    with refusals(), context().read() as tx:
        c = svc.get_committee(tx.session, slug)
        ro = load_roster(tx.session, c)
        rules = committee_rules(c)
        typer.echo(f"{c.slug}: {c.name}\n  host country  {c.host_country}\n  timezone      {c.timezone}\n"
                   f"  period        {rules.electronic_decision.objection_period_days} calendar days "
                   f"({rules.electronic_decision.period_ends})\n  cap           "
                   f"{rules.membership.max_members_per_government} members per government")
        for seat in ("japan", "host"):
            term = ro.term(seat, tx.now)
            alt = ro.alternate(seat, tx.now)
            holder = f"{term.member} until {term.span.end.astimezone(rules.tz).date() if term.span.end else '-'}" if term else "VACANT"
            typer.echo(f"  {seat} co-chair  {holder}{f' (alternate {alt})' if alt else ''}")
        typer.echo(f"  members       {', '.join(ro.active_members(tx.now)) or '-'}")


@member_app.command("add")
def member_add(
    slug: str, handle: str = typer.Argument(..., help="The member's id, e.g. tanaka."),
    government: str = typer.Option(..., "--government", "-g", help="japan or host."),
    name: str = typer.Option(None, "--name"), email: str = typer.Option(None, "--email"),
    slack: str = typer.Option(None, "--slack", help="Slack user id (U...)."),
    tz: str = typer.Option(None, "--tz", help="The member's own time zone for deadlines."),
) -> None:
    """Designate a member (refused past the cap of the rules file)."""
    if not name and not svc.split_address(email)[0] and sys.stdin.isatty() and sys.stdout.isatty():
        name = typer.prompt(f"{handle}'s name, as emails greet them", default=handle)
    with refusals():
        m = svc.add_member(context(), slug, handle, government, actor(), name=name, email=email, slack_user_id=slack, timezone=tz)
    typer.echo(f"{slug}: {m.handle} ({m.government}) is a member")
    if m.name == m.handle:
        typer.echo(f"note: emails greet {handle} as {handle!r}; give a name with jcbot member update {slug} {handle} "
                   "--name 'Full Name' (or --email 'Full Name <address>')", err=True)


@member_app.command("update")
def member_update(slug: str, handle: str, name: str = typer.Option(None, "--name"),
                  email: str = typer.Option(None, "--email"), slack: str = typer.Option(None, "--slack"),
                  tz: str = typer.Option(None, "--tz")) -> None:
    """Change a member's contact details."""
    with refusals():
        svc.update_member(context(), slug, handle, actor(), name=name, email=email, slack_user_id=slack, timezone=tz)
    typer.echo(f"{slug}: {handle} updated")


@member_app.command("remove")
def member_remove(slug: str, handle: str) -> None:
    """A member leaves the JC (a co-chair's seat falls vacant)."""
    with refusals():
        svc.remove_member(context(), slug, handle, actor())
    typer.echo(f"{slug}: {handle} has left the JC")


@member_app.command("list")
def member_list(slug: str, all_: bool = typer.Option(False, "--all", help="Include members who left.")) -> None:
    """The members, with their seats and addresses."""
    with refusals(), context().read() as tx:
        c = svc.get_committee(tx.session, slug)
        ro = load_roster(tx.session, c)
        rows = []
        for m in tx.session.exec(select(Member).where(Member.committee_id == c.id).order_by(Member.government, Member.handle)):
            if m.left_at and not all_:
                continue
            role = ", ".join(f"{s} {'co-chair' if ro.holder(s, tx.now) == m.handle else 'alternate'}"
                             for s in ro.seats_spoken_for(m.handle, tx.now))
            rows.append([m.handle, m.name, m.government, role or None, m.email, m.slack_user_id, m.timezone,
                         m.left_at.date() if m.left_at else None])
    typer.echo(table(rows, ["id", "name", "government", "role", "email", "slack", "timezone", "left"]))


@cochair_app.command("elect")
def cochair_elect(slug: str, seat: str = typer.Argument(..., help="japan or host."), handle: str = typer.Argument(...)) -> None:
    """Record the election of a co-chair (a term of the rules' length starts now)."""
    with refusals():
        svc.elect_cochair(context(), slug, seat, handle, actor())
    typer.echo(f"{slug}: {handle} is the {seat} co-chair")


@alternate_app.command("set")
def alternate_set(slug: str, cochair: str, alternate: str) -> None:
    """A co-chair designates an alternate."""
    with refusals():
        svc.set_alternate(context(), slug, cochair, alternate, actor())
    typer.echo(f"{slug}: {alternate} is {cochair}'s alternate")


@alternate_app.command("revoke")
def alternate_revoke(slug: str, cochair: str) -> None:
    """A co-chair revokes their alternate."""
    with refusals():
        svc.revoke_alternate(context(), slug, cochair, actor())
    typer.echo(f"{slug}: {cochair} has no alternate")


secretariat_app = typer.Typer(help="The secretariat: who prepares proposals and sees the dashboard.", no_args_is_help=True)


@secretariat_app.command("add")
def secretariat_add(name: str, email: str = typer.Option(None, "--email"), slack: str = typer.Option(None, "--slack"),
                    committee: str = typer.Option(None, "--committee", help="One committee; default all.")) -> None:
    """Register someone of the secretariat (receives digests and duties, may sign in to the dashboard)."""
    with refusals():
        s = svc.add_secretariat(context(), name, actor(), slug=committee, email=email, slack_user_id=slack)
    typer.echo(f"secretariat: {s.name} added")
