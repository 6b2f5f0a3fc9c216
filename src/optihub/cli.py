"""The ``optihub`` command. With ``--json`` a command prints one JSON value on its last line."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from optihub.db import migrate as migrations
from optihub.db.session import Database
from optihub.domain import oma
from optihub.errors import OptiHubError, ValidationFailed
from optihub.settings import Settings

app = typer.Typer(help="OptiHub: the optical order hub.", no_args_is_help=True)
practice_app = typer.Typer(help="Manage practices (tenants).", no_args_is_help=True)
user_app = typer.Typer(help="Manage staff users.", no_args_is_help=True)
client_app = typer.Typer(help="Register OAuth apps.", no_args_is_help=True)
documents_app = typer.Typer(help="Stored order documents (the read path).", no_args_is_help=True)
keys_app = typer.Typer(
    help="The authorization server's token-signing keys (docs/operating.md, Signing keys).",
    no_args_is_help=True,
)
app.add_typer(practice_app, name="practice")
app.add_typer(documents_app, name="documents")
app.add_typer(user_app, name="user")
app.add_typer(client_app, name="client")
app.add_typer(keys_app, name="keys")

console = Console(stderr=True, soft_wrap=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON value on the last line.")]


def _settings() -> Settings:
    return Settings.from_env()


def _emit(value: Any, as_json: bool, human: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(value, default=str) + "\n")
    else:
        typer.echo(human)


@contextmanager
def _database() -> Iterator[Database]:
    """The configured database, migrated, disposed afterwards."""
    settings = _settings()
    migrations.upgrade(settings.database_url)
    db = Database(settings.database_url)
    try:
        yield db
    finally:
        db.dispose()


def _fail(exc: OptiHubError) -> NoReturn:
    console.print(f"[red]error:[/red] {exc.message}")
    if isinstance(exc, ValidationFailed):
        for error in exc.errors:
            console.print(f"  {error.field}: {error.message}")
    raise typer.Exit(code=1)


@app.command()
def migrate() -> None:
    """Apply database migrations (safe to repeat)."""
    settings = _settings()
    migrations.upgrade(settings.database_url)
    console.print("database is up to date")


def _seed(db: Database, settings: Settings) -> tuple[int, bool]:
    from optihub.auth.keys import InstanceKey
    from optihub.demo import seed_demo

    total = 1 + 200 + 1 + 50 + 300
    with Progress(
        TextColumn("seeding demo data: {task.fields[label]}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("seed", total=total, label="")

        def advance(label: str, n: int) -> None:
            progress.update(task, advance=n, label=label)

        with db.transaction() as session:
            result = seed_demo(session, progress=advance, key=InstanceKey.from_settings(settings))
        progress.update(task, completed=total, label="done")
    return result.practice_id, result.created


def _store_documents(db: Database, *, everything: bool = False) -> int:
    """Render the stored order documents every installed surface serves, with progress."""
    from optihub.reads import documents
    from optihub.surfaces import SURFACES

    for surface in SURFACES:
        if surface.projection is not None:
            documents.register(surface.projection)
    with Progress(
        TextColumn("storing order documents"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("documents", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return documents.rebuild(db, everything=everything, progress=advance)


@documents_app.command("rebuild")
def documents_rebuild(
    everything: Annotated[
        bool, typer.Option("--all", help="Re-render every order, not only missing documents.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Store the order documents that are missing (after an upgrade or a bulk import)."""
    with _database() as db:
        stored = _store_documents(db, everything=everything)
    _emit({"stored": stored}, as_json, f"stored the documents of {stored} orders")


@app.command("seed-demo")
def seed_demo_command(as_json: JsonFlag = False) -> None:
    """Load the demo practice, frames, patients and orders (only once)."""
    with _database() as db:
        practice_id, created = _seed(db, _settings())
    _emit(
        {"practice_id": practice_id, "created": created},
        as_json,
        f"demo practice {practice_id} {'created' if created else 'already present'}",
    )


@app.command()
def serve(
    demo: Annotated[bool, typer.Option("--demo", help="Load the demo data (once).")] = False,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.")] = 1,
) -> None:
    """Migrate, then serve OptiHub on OPTIHUB_HOST:OPTIHUB_PORT (default 127.0.0.1:8000)."""
    import uvicorn

    from optihub.logging import configure_logging

    settings = _settings()
    configure_logging(settings.log_level, settings.log_json)
    migrations.upgrade(settings.database_url)
    db = Database(settings.database_url)
    try:
        if demo:
            _seed(db, settings)
        _store_documents(db)
    finally:
        db.dispose()
    if demo:
        from optihub.demo import DEMO_EMAIL, DEMO_PASSWORD

        console.print(f"demo login: [bold]{DEMO_EMAIL}[/bold] / [bold]{DEMO_PASSWORD}[/bold]")
    console.print(f"OptiHub is running at [bold]{settings.issuer}/[/bold]  (Ctrl+C to stop)")
    console.print(f"  sign in:  {settings.issuer}/login    API docs: {settings.issuer}/docs")
    uvicorn.run(
        "optihub.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        # OptiHub's own access log (JSON, with the request id) replaces uvicorn's.
        access_log=False,
        log_config=None,
        # The scheme and client a trusted proxy names (uvicorn's FORWARDED_ALLOW_IPS,
        # loopback by default) are the request's: https there turns HSTS on.
        proxy_headers=True,
        # No "server: uvicorn" banner: it tells a scanner what to try.
        server_header=False,
    )


@app.command()
def worker() -> None:
    """Deliver webhooks (run several on PostgreSQL; they share the work). Ctrl+C stops."""
    import signal

    from optihub.app import build_worker, create_app
    from optihub.logging import configure_logging

    settings = _settings()
    configure_logging(settings.log_level, settings.log_json)
    migrations.upgrade(settings.database_url)
    db = Database(settings.database_url)
    app_for_wiring = create_app(settings, database=db)
    delivery = build_worker(app_for_wiring)
    signal.signal(signal.SIGTERM, lambda *_: delivery.stop())
    console.print("webhook worker running (Ctrl+C to stop)")
    try:
        delivery.run_forever()
    except KeyboardInterrupt:
        delivery.stop()
    finally:
        delivery.close()
        db.dispose()


@app.command()
def backup(
    file: Annotated[Path, typer.Argument(help="The backup file to write (a new file).")],
    as_json: JsonFlag = False,
) -> None:
    """Back up the database while OptiHub serves (SQLite's online backup; pg_dump)."""
    from optihub.db import backups

    settings = _settings()
    try:
        with _pages_progress("backing up") as progress:
            done = backups.backup(settings.database_url, file, progress)
    except OptiHubError as exc:
        _fail(exc)
    _emit(
        {"file": str(done.path), "database": done.kind, "bytes": done.size},
        as_json,
        f"backup written to {done.path} ({done.size:,} bytes, {done.kind}). Keep the instance"
        " key (OPTIHUB_SECRET_KEY or instance.key in the data directory) too, apart from it.",
    )


@app.command()
def restore(
    file: Annotated[Path, typer.Argument(help="A backup written by `optihub backup`.")],
    as_json: JsonFlag = False,
) -> None:
    """Restore a backup into the configured database, which must be empty, then migrate."""
    from optihub.db import backups

    settings = _settings()
    try:
        with _pages_progress("restoring") as progress:
            done = backups.restore(settings.database_url, file, progress)
    except OptiHubError as exc:
        _fail(exc)
    migrations.upgrade(settings.database_url)
    _emit(
        {"file": str(done.path), "database": done.kind, "restored": True},
        as_json,
        f"restored {done.path} into the {done.kind} database, migrated to this release",
    )


@contextmanager
def _pages_progress(label: str) -> Iterator[Any]:
    """A progress bar of pages copied (SQLite); PostgreSQL's programs report none."""
    with Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), console=console, transient=True
    ) as bar:
        task = bar.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or None)

        yield advance


@app.command()
def openapi(
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")] = Path(
        "openapi.json"
    ),
    surface: Annotated[
        str | None, typer.Option("--surface", help="Only this surface's paths (e.g. practice).")
    ] = None,
    postman: Annotated[
        Path | None,
        typer.Option("--postman", help="Also write a Postman v2.1 collection (needs --surface)."),
    ] = None,
) -> None:
    """Write the OpenAPI document of every surface (or of one, with --surface)."""
    from optihub.app import create_app
    from optihub.surfaces import SURFACES
    from optihub.surfaces.practice import postman as postman_collection

    # Building the document needs no database or instance key of this machine.
    settings = Settings.from_env(
        {"OPTIHUB_DATABASE_URL": "sqlite://", "OPTIHUB_SECRET_KEY": "openapi-document-only"}
    )
    application = create_app(settings)
    document = application.openapi()
    if surface is not None or postman is not None:
        chosen = next((s for s in SURFACES if s.name == surface), None)
        if chosen is None:
            names = ", ".join(s.name for s in SURFACES)
            _fail(OptiHubError(f"--surface must name one of: {names}"))
        # The paths the surface owns (one mounted under another's prefix keeps its own).
        owner = application.state.surfaces.owner
        document["paths"] = {
            path: operations
            for path, operations in document.get("paths", {}).items()
            if owner(path) is chosen
        }
        if postman is not None:
            title = f"OptiHub {chosen.name} API"
            found = postman_collection.collection(document, chosen.prefix, title)
            postman.write_text(json.dumps(found, indent=2) + "\n")
            console.print(f"wrote {postman} (Postman collection)")
    output.write_text(json.dumps(document, indent=2) + "\n")
    console.print(f"wrote {output} ({len(document.get('paths', {}))} paths)")


def _key_row(row: Any) -> dict[str, Any]:
    return {
        "kid": row.kid,
        "alg": row.alg,
        "state": "retired" if row.retired_at else ("signing" if row.active else "published"),
        "created_at": row.created_at.isoformat(),
        "retired_at": row.retired_at.isoformat() if row.retired_at else None,
    }


def _key_line(key: dict[str, Any]) -> str:
    when = key["created_at"][:16].replace("T", " ")
    retired = f", retired {key['retired_at'][:16].replace('T', ' ')}" if key["retired_at"] else ""
    return f"{key['kid']}\t{key['state']}\t{key['alg']}\tmade {when}{retired}"


@keys_app.command("list")
def keys_list(as_json: JsonFlag = False) -> None:
    """List the signing keys: the one signing new tokens, those still published (tokens
    they signed still verify) and the retired ones."""
    from optihub.auth.keys import signing_keys

    with _database() as db, db.transaction() as session:
        rows = [_key_row(row) for row in signing_keys(session)]
    _emit(rows, as_json, "\n".join(_key_line(r) for r in rows) or "no signing keys yet")


@keys_app.command("rotate")
def keys_rotate(as_json: JsonFlag = False) -> None:
    """Make a new key that signs every token from now on; the previous one stays published,
    so the tokens it signed keep verifying until you retire it."""
    from optihub.auth.keys import InstanceKey, create_signing_key, signing_keys

    settings = _settings()
    with _database() as db, db.transaction() as session:
        before = [r.kid for r in signing_keys(session) if r.active]
        row = create_signing_key(session, InstanceKey.from_settings(settings))
        value = _key_row(row) | {"previous": before[0] if before else None}
    _emit(
        value,
        as_json,
        f"{value['kid']} signs new tokens from now on (each process within 5 minutes)"
        + (
            f"; {value['previous']} stays published until `optihub keys retire {value['previous']}`"
            if value["previous"]
            else ""
        ),
    )


@keys_app.command("retire")
def keys_retire(
    kid: Annotated[str, typer.Argument(help="The key id, as `optihub keys list` shows it.")],
    as_json: JsonFlag = False,
) -> None:
    """Stop publishing a key that no longer signs: the tokens it signed stop verifying."""
    from optihub.auth.keys import retire_signing_key

    try:
        with _database() as db, db.transaction() as session:
            value = _key_row(retire_signing_key(session, kid, checked=True))
    except OptiHubError as exc:
        _fail(exc)
    _emit(value, as_json, f"{kid} retired: it is no longer published, its tokens stop verifying")


@practice_app.command("create")
def practice_create(
    name: Annotated[str, typer.Option("--name", help="The practice's name.")],
    as_json: JsonFlag = False,
) -> None:
    """Create a practice."""
    from optihub.services.practices import create_practice

    try:
        with _database() as db, db.transaction() as session:
            practice = create_practice(session, name=name)
            value = {"id": practice.id, "name": practice.name}
    except OptiHubError as exc:
        _fail(exc)
    _emit(value, as_json, f"practice {value['id']}: {value['name']}")


@practice_app.command("list")
def practice_list(as_json: JsonFlag = False) -> None:
    """List practices."""
    from optihub.services.practices import list_practices

    with _database() as db, db.transaction() as session:
        rows = [{"id": p.id, "name": p.name} for p in list_practices(session)]
    _emit(rows, as_json, "\n".join(f"{r['id']}\t{r['name']}" for r in rows) or "no practices")


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Option("--email")],
    password: Annotated[str, typer.Option("--password")],
    practice: Annotated[int, typer.Option("--practice", help="Practice id.")],
    role: Annotated[str, typer.Option("--role", help="owner, manager or staff")] = "staff",
    as_json: JsonFlag = False,
) -> None:
    """Create a staff user who can sign in, with a role in one practice."""
    from optihub.services.users import create_user

    try:
        with _database() as db, db.transaction() as session:
            user = create_user(
                session, email=email, password=password, practice_id=practice, role=role
            )
            value = {"id": str(user.id), "email": user.email, "practice_id": practice, "role": role}
    except OptiHubError as exc:
        _fail(exc)
    _emit(value, as_json, f"user {value['email']} ({role} of practice {practice})")


@client_app.command("create")
def client_create(
    name: Annotated[str, typer.Option("--name", help="The app's name, shown on consent.")],
    scope: Annotated[str, typer.Option("--scope", help='Space-separated, e.g. "orders:read".')],
    redirect_uri: Annotated[
        list[str] | None, typer.Option("--redirect-uri", help="Repeat for several.")
    ] = None,
    public: Annotated[bool, typer.Option("--public", help="No secret; PKCE only.")] = False,
    practice: Annotated[
        list[int] | None,
        typer.Option("--practice", help="Connect the app to this practice (client credentials)."),
    ] = None,
    jwks: Annotated[
        Path | None,
        typer.Option(
            "--jwks",
            help="A file holding the app's public keys (a JWKS): the app then has no secret "
            "and signs its token requests (private_key_jwt, SMART Backend Services).",
            metavar="FILE",
        ),
    ] = None,
    jwks_url: Annotated[
        str | None,
        typer.Option(
            "--jwks-url",
            help="The https address where the app publishes its public keys (a JWKS), "
            "instead of --jwks.",
            metavar="URL",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Register an OAuth app; prints its client id and (once) its secret, or, for an app
    registered with its public keys (--jwks / --jwks-url), its client id only."""
    from optihub.errors import FieldError
    from optihub.services.client_keys import PRIVATE_KEY_JWT
    from optihub.services.oauth_clients import register_client

    key_set: str | None = None
    if jwks is not None:
        try:
            key_set = jwks.read_text(encoding="utf-8")
        except (OSError, UnicodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            _fail(ValidationFailed([FieldError("jwks", f"Cannot read {jwks}: {reason}.")]))
    try:
        with _database() as db, db.transaction() as session:
            registered = register_client(
                session,
                name=name,
                scope=scope,
                redirect_uris=list(redirect_uri or []),
                public=public,
                practice_ids=list(practice or []),
                jwks=key_set,
                jwks_uri=jwks_url,
                allowed_hosts=_settings().webhook_allowed_hosts,
            )
            client = registered.client
            value: dict[str, Any] = {
                "client_id": client.client_id,
                "client_secret": registered.client_secret,
                "token_endpoint_auth_method": client.token_endpoint_auth_method,
            }
            if client.jwks_uri:
                value["jwks_uri"] = client.jwks_uri
    except OptiHubError as exc:
        _fail(exc)
    if value["client_secret"]:
        second = f"client_secret: {value['client_secret']}  (shown once: store it now)"
    elif value["token_endpoint_auth_method"] == PRIVATE_KEY_JWT:
        second = "no secret: the app signs its token requests with its key (private_key_jwt)"
    else:
        second = "public app: no secret (use PKCE)"
    _emit(value, as_json, f"client_id: {value['client_id']}\n{second}")


@client_app.command("rate-limit")
def client_rate_limit(
    client_id: Annotated[str, typer.Argument(help="The app's client id.", metavar="CLIENT_ID")],
    rate: Annotated[
        str | None,
        typer.Argument(
            help='e.g. "250/minute" or "10/second"; "default" removes the app\'s own rate.',
            metavar="RATE",
        ),
    ] = None,
    clear: Annotated[
        bool, typer.Option("--clear", help="Remove the app's own rate (same as RATE default).")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Give an app its own request rate on every rate-limited surface (per module), or
    put it back on each surface's default. Running servers apply it within 30 seconds."""
    from limits import parse_many
    from sqlalchemy import select

    from optihub.db.models import OAuthClient
    from optihub.errors import FieldError, NotFound

    try:
        if clear or (rate is not None and rate.strip().lower() == "default"):
            rate = None
        elif rate is None:
            raise ValidationFailed([FieldError("rate", 'Give a RATE, "default" or --clear.')])
        else:
            rate = rate.strip()
            try:
                items = parse_many(rate)
            except ValueError:
                items = []
            if len(items) != 1 or items[0].amount < 1:
                raise ValidationFailed(
                    [FieldError("rate", f'{rate!r} is not one rate such as "250/minute".')]
                )
            if len(rate) > 30:
                raise ValidationFailed([FieldError("rate", "Is too long (30 characters).")])
        with _database() as db, db.transaction() as session:
            client = session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
            if client is None:
                raise NotFound("App", client_id)
            client.rate_limit = rate
    except OptiHubError as exc:
        _fail(exc)
    value = {"client_id": client_id, "rate_limit": rate}
    _emit(value, as_json, f"{client_id}: {rate or 'the default rate of each surface'}")


# --------------------------------------------------------------------------- portal

portal_app = typer.Typer(help="The portal sync API (MVE dialect).", no_args_is_help=True)
app.add_typer(portal_app, name="portal")


@portal_app.command("status-map")
def portal_status_map(
    practice: Annotated[int, typer.Option("--practice", help="The practice id.")],
    name: Annotated[
        str | None,
        typer.Argument(help='The practice\'s own status name, e.g. "Ready for pickup".'),
    ] = None,
    status: Annotated[
        str | None,
        typer.Argument(
            help="The canonical state it means (draft, received, in_progress, completed, "
            'shipped, delivered, cancelled); "default" maps the name by name again.',
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Map one of the practice's order-status names to a canonical state, or list the
    practice's mappings (no NAME). Orders synced later with that status name move there."""
    from optihub.db.models import Practice
    from optihub.domain.orders import OrderStatus
    from optihub.errors import FieldError, NotFound
    from optihub.services import status_names

    try:
        with _database() as db, db.transaction() as session:
            if session.get(Practice, practice) is None:
                raise NotFound("Practice", practice)
            if name is not None:
                if status is None:
                    raise ValidationFailed([FieldError("status", "Give a STATUS (or default).")])
                wanted = status.strip().lower()
                allowed = [s.value for s in OrderStatus]
                if wanted != "default" and wanted not in allowed:
                    raise ValidationFailed(
                        [FieldError("status", f"Must be one of: {', '.join(allowed)}, default.")]
                    )
                status_names.set_status_mapping(
                    session, practice, name, None if wanted == "default" else OrderStatus(wanted)
                )
            mappings = status_names.status_mappings(session, practice)
    except OptiHubError as exc:
        _fail(exc)
    value = {"practice_id": practice, "mappings": dict(mappings)}
    human = "\n".join(f"{n!r} -> {s}" for n, s in mappings) or (
        "No mappings: status names map by name (see docs/portal-api.md)."
    )
    _emit(value, as_json, human)


# --------------------------------------------------------------------------- tracing

tracing_app = typer.Typer(help="Frame tracings (OMA/DCS files).", no_args_is_help=True)
app.add_typer(tracing_app, name="tracing")

# (label the file records it under, JSON key, Trace attribute, what the figure is); the
# file's own FED is not compared (the files seen round it to whole millimetres).
_TRACING_FIGURES: tuple[tuple[str | None, str, str, str], ...] = (
    ("HBOX", "hbox_mm", "box_width", "box width"),
    ("VBOX", "vbox_mm", "box_height", "box height"),
    ("CIRC", "circumference_mm", "circumference", "circumference"),
    (None, "effective_diameter_mm", "effective_diameter", "effective diameter"),
)
_TRACING_SIDES = (("R", "right"), ("L", "left"))


def _tracing_fail(message: str) -> NoReturn:
    from rich.markup import escape

    console.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(code=1)


def _mm(value: float) -> float:
    return round(value, 2) + 0.0  # + 0.0 turns -0.0 into 0.0


def _recorded_mm(value: float) -> str:
    """A recorded figure as the file gives it, with at least two decimals (51 → 51.00)."""
    text = f"{value:.6f}".rstrip("0")
    return text + "0" * max(0, 2 - len(text.partition(".")[2]))


def _tracing_value(
    name: str, traces: dict[str, oma.Trace], document: oma.OmaDocument
) -> dict[str, Any]:
    """The JSON report: computed figures per side, what the file records, the differences."""
    recorded_by_side = document.recorded_figures()
    sides: dict[str, Any] = {}
    formats: dict[str, Any] = {}
    recorded: dict[str, Any] = {}
    differences: dict[str, Any] = {}
    for side, side_name in _TRACING_SIDES:
        trace = traces.get(side)
        if trace is None:
            continue
        sides[side_name] = {"points": trace.point_count}
        formats[side_name] = {
            "format": trace.format,
            "name": trace.format_name,
            "spacing": trace.spacing,
            "type": trace.type_name,
        }
        for label, key, attribute, _ in _TRACING_FIGURES:
            computed = float(getattr(trace, attribute))
            sides[side_name][key] = _mm(computed)
            in_file = recorded_by_side.get(side, {}).get(label) if label else None
            if in_file is not None:
                recorded.setdefault(side_name, {})[key] = in_file
                differences.setdefault(side_name, {})[key] = _mm(computed - in_file)
    return {
        "file": name,
        "sides": sides,
        "recorded": recorded,
        "differences": differences,
        "traces": formats,
        "warnings": document.consistency_warnings(),
    }


def _tracing_human(value: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    out = Console(highlight=False)
    described = {
        side: f"TRCFMT {t['format']} ({t['name']}), {value['sides'][side]['points']} points,"
        f" {'equal' if t['spacing'] == 'E' else 'unequal'} spacing, {t['type']}"
        for side, t in value["traces"].items()
    }
    table = Table(title=escape(value["file"]), title_justify="left")
    table.add_column("side")
    table.add_column("figure")
    table.add_column("computed", justify="right")
    table.add_column("file records", justify="right")
    table.add_column("difference", justify="right")
    for side in value["sides"]:
        figures = value["sides"][side]
        table.add_row(side, "points", str(figures["points"]), "", "")
        for label, key, _, what in _TRACING_FIGURES:
            recorded = value["recorded"].get(side, {}).get(key)
            difference = value["differences"].get(side, {}).get(key)
            table.add_row(
                "",
                f"{label} {what} (mm)" if label else f"{what} (mm)",
                f"{figures[key]:.2f}",
                "-" if recorded is None else _recorded_mm(recorded),
                "" if difference is None else f"{difference:+.2f}",
                end_section=key == _TRACING_FIGURES[-1][1],
            )
    if len(set(described.values())) == 1:
        out.print(f"trace format: {escape(next(iter(described.values())))}")
    else:
        for side, text in described.items():
            out.print(f"{side} trace format: {escape(text)}")
    out.print(table)
    for warning in value["warnings"]:
        out.print(f"[yellow]warning:[/yellow] {escape(warning)}")


@tracing_app.command("inspect")
def tracing_inspect(
    file: Annotated[Path, typer.Argument(help="An OMA/DCS frame-tracing file.", metavar="FILE")],
    as_json: JsonFlag = False,
) -> None:
    """Show a tracing's figures per side (points, HBOX, VBOX, circumference, effective
    diameter) next to the HBOX/VBOX/CIRC the file itself records."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        _tracing_fail(f"cannot read {file}: {exc.strerror or exc}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # DCS is ASCII; the figures never depend on this
    try:
        document = oma.parse(text)
        traces = oma.outline(document)
    except ValueError as exc:  # OmaFormatError, or a trace the geometry refuses
        _tracing_fail(f"{file.name}: {exc}")
    if not traces:
        _tracing_fail(f"{file.name}: no TRCFMT trace in the file")
    value = _tracing_value(file.name, traces, document)
    if as_json:
        _emit(value, True, "")
    else:
        _tracing_human(value)


def main() -> None:
    app()
