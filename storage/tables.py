"""Table definitions (SQLAlchemy Core), shared by the code and the migrations.

Times are stored as UNIX seconds in double precision: the same type and the same
comparisons on SQLite and PostgreSQL, with no time-zone conversion on the way.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB

# Deterministic constraint names, so migrations can refer to them on both backends.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only aliases the rowid for INTEGER PRIMARY KEY, not BIGINT.
Id = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")

jobs = Table(
    "jobs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # What kind of work: "deliver", "inbox", "fetch"…; workers pick queues by name.
    Column("queue", String(64), nullable=False),
    # pending → running → done, or back to pending for a retry, or dead.
    Column("state", String(16), nullable=False, server_default="pending"),
    Column("payload", Json, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", Float, nullable=False),
    Column("lease_expires_at", Float, nullable=True),
    Column("locked_by", String(128), nullable=True),
    Column("last_error", Text, nullable=True),
    # Optional: the same key twice in one queue is one job (idempotent enqueue).
    Column("dedupe_key", String(512), nullable=True),
    # Optional: a group (a remote host) whose jobs share a concurrency limit.
    Column("partition_key", String(255), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("queue", "dedupe_key"),
    # The claim query's path: due pending jobs, oldest first.
    Index("ix_jobs_claim", "state", "next_attempt_at"),
    Index(
        "ix_jobs_lease",
        "lease_expires_at",
        postgresql_where=text("state = 'running'"),
        sqlite_where=text("state = 'running'"),
    ),
)

# --- federation -------------------------------------------------------------

# Our own actors.  Their keys are the node's (config [keys]); each actor
# publishes them under its own key ids.
local_actors = Table(
    "local_actors",
    metadata,
    Column("username", String(128), primary_key=True),
    Column("type", String(32), nullable=False),
    Column("name", Text, nullable=False),
    Column("summary", Text, nullable=False, server_default=""),
    Column("manually_approves", Boolean, nullable=False, server_default=false()),
    Column("created_at", Float, nullable=False),
)

# People who sign in on the node's pages; each is also a local Person actor.
web_accounts = Table(
    "web_accounts",
    metadata,
    Column(
        "username",
        String(128),
        ForeignKey("local_actors.username", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("password_hash", Text, nullable=False),  # argon2id, PHC string
    Column("created_at", Float, nullable=False),
    Column("disabled", Boolean, nullable=False, server_default=false()),
)

# Signed-in browsers: only the SHA-256 of the cookie's token is kept.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column(
        "username",
        String(128),
        ForeignKey("web_accounts.username", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)

# Peers' actors as last fetched, with an expiry for the cache.
remote_actors = Table(
    "remote_actors",
    metadata,
    Column("id", String(2048), primary_key=True),
    Column("host", String(255), nullable=False, index=True),
    Column("inbox", String(2048), nullable=False),
    Column("shared_inbox", String(2048), nullable=True),
    Column("preferred_username", String(255), nullable=True),
    Column("document", Json, nullable=False),
    Column("fetched_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)

# Public keys of peers, by key id; owner is the actor that lists them.
remote_keys = Table(
    "remote_keys",
    metadata,
    Column("key_id", String(2048), primary_key=True),
    Column(
        "actor_id",
        String(2048),
        ForeignKey("remote_actors.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("public_pem", Text, nullable=False),
    Column("source", String(32), nullable=False),
)

# Follow relations in both directions: a follower or a followee is local when
# its IRI is on our origin.  state: pending, accepted, rejected.
follows = Table(
    "follows",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("follower", String(2048), nullable=False),
    Column("followee", String(2048), nullable=False),
    Column("activity_id", String(2048), nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("follower", "followee"),
    Index("ix_follows_followee_state", "followee", "state"),
)

# What our actors published, in order: the outbox.  Objects are kept with
# the activity; a deleted object leaves a tombstone (deleted_at).
activities = Table(
    "activities",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("id", String(2048), nullable=False, unique=True),
    Column("actor", String(128), nullable=False),
    Column("type", String(32), nullable=False),
    Column("object_id", String(2048), nullable=True, index=True),
    Column("document", Json, nullable=False),
    Column("published_at", Float, nullable=False),
    Column("public", Boolean, nullable=False, server_default=true()),
    Index("ix_activities_actor_seq", "actor", "seq"),
)

objects = Table(
    "objects",
    metadata,
    Column("id", String(2048), primary_key=True),
    Column("actor", String(128), nullable=False),
    Column("type", String(32), nullable=False),
    Column("document", Json, nullable=False),
    Column("published_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("deleted_at", Float, nullable=True),
)

# Objects our actors received from peers (Notes, Articles…), kept as sent.
remote_objects = Table(
    "remote_objects",
    metadata,
    Column("id", String(2048), primary_key=True),
    Column("actor", String(2048), nullable=False, index=True),
    Column("type", String(32), nullable=False),
    Column("document", Json, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # What it answers, so a page can list the replies to one of ours.
    Column("in_reply_to", String(2048), nullable=True, index=True),
)

# What we know of each peer host: the signature scheme it accepts, and the
# circuit breaker (consecutive failures, paused until).
hosts = Table(
    "hosts",
    metadata,
    Column("host", String(255), primary_key=True),
    Column("scheme", String(32), nullable=True),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("paused_until", Float, nullable=True),
    Column("last_success_at", Float, nullable=True),
    Column("updated_at", Float, nullable=False),
)

# --- catalogue ---------------------------------------------------------------

# Every catalogue record (dataset, data service / offer), ours or mirrored from
# a peer, kept as the signed JSON-LD document it was published as.  The other
# columns are derived from the document for search and listing.
records = Table(
    "records",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("id", String(2048), nullable=False, unique=True),
    # Dataset or DataService (a service offer).
    Column("kind", String(32), nullable=False),
    # Our own records have slug set; mirrored ones are None.
    Column("slug", String(200), nullable=True, unique=True),
    Column("origin", String(255), nullable=False),  # host of the record's IRI
    Column("actor", String(2048), nullable=False),  # who published it
    Column("document", Json, nullable=False),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("publisher", String(2048), nullable=False, server_default=""),
    Column("themes", Json, nullable=False),
    Column("keywords", Json, nullable=False),
    Column("formats", Json, nullable=False),
    Column("mirrored", Boolean, nullable=False, server_default=false()),
    Column("published_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("verified_at", Float, nullable=True),
    Column("deleted_at", Float, nullable=True),
    Index("ix_records_kind_seq", "kind", "seq"),
    Index("ix_records_origin", "origin"),
)

# Hashed admin API tokens: the token itself is shown once and never stored.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("token_hash", String(128), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float, nullable=True),
    Column("revoked_at", Float, nullable=True),
)

# --- search ------------------------------------------------------------------

# The search index of the records table (built by storage.search).  A posting
# is a bitmap of record seqs, one row per (field, value, block of 4096 seqs):
# bit n of block b is record 4096*b + n.  Fields are word, title, theme,
# keyword, format, publisher, kind, scope and all (every live record).
record_postings = Table(
    "record_postings",
    metadata,
    Column("field", String(16), primary_key=True),
    Column("value", String(512), primary_key=True),
    Column("block", Integer, primary_key=True, autoincrement=False),
    Column("bits", LargeBinary, nullable=False),
)

# The terms each record is indexed under, so re-indexing can clear the bits of
# the terms it no longer has ({field: [values]}).  No foreign key: the row
# outlives a deleted record until index_record clears its bits.
record_index = Table(
    "record_index",
    metadata,
    Column("record_seq", Id, primary_key=True, autoincrement=False),
    Column("terms", Json, nullable=False),
)

# --- contracts ---------------------------------------------------------------

# Agreements on our service offers (we are the provider) and on peers' (we
# are the consumer), shaped like the Dataspace Protocol's contract
# negotiation: requested → agreed → terminated, or rejected.
agreements = Table(
    "agreements",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("role", String(16), nullable=False),  # provider or consumer
    Column("state", String(16), nullable=False),
    Column("offer_id", String(2048), nullable=False),  # the service record
    Column("provider", String(2048), nullable=False),
    Column("consumer", String(2048), nullable=False),
    # The consumer's Offer activity: what both sides refer to until agreed.
    Column("request_id", String(2048), nullable=False),
    Column("agreement_id", String(2048), nullable=True),  # the odrl:Agreement IRI
    Column("policy", Json, nullable=False),  # the requested policy (JSON-LD)
    Column("agreement", Json, nullable=True),  # the signed odrl:Agreement
    Column("reason", Text, nullable=False, server_default=""),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("role", "request_id"),
    Index("ix_agreements_offer_consumer", "offer_id", "consumer", "state"),
    Index("ix_agreements_agreement_id", "agreement_id"),
)

# Bearer tokens bound to one agreement, for clients that cannot sign.
agreement_tokens = Table(
    "agreement_tokens",
    metadata,
    Column("token_hash", String(128), primary_key=True),
    Column(
        "agreement_seq",
        Id,
        ForeignKey("agreements.seq", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("created_at", Float, nullable=False),
)

# Metering: uses per agreement and quota window (for enforcement) and per day
# (for the public ledger).  Written in batches by the meter, never per call.
usage_windows = Table(
    "usage_windows",
    metadata,
    Column("agreement_seq", Id, primary_key=True, autoincrement=False),
    Column("period", String(32), primary_key=True),
    Column("window_start", Float, primary_key=True),
    Column("uses", BigInteger, nullable=False),
)

usage_daily = Table(
    "usage_daily",
    metadata,
    Column("agreement_seq", Id, primary_key=True, autoincrement=False),
    Column("day", String(10), primary_key=True),  # UTC date, YYYY-MM-DD
    Column("calls", BigInteger, nullable=False),
)

# Data requests citizens and peers send (the enforced write function).
data_requests = Table(
    "data_requests",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("caller", String(2048), nullable=True),
    Column("subject", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

# --- decision log ---------------------------------------------------------------

# The node's public, hash-chained, signed decision log (protocol.decisionlog):
# entries in order, and the signed checkpoints peers mirror.
decision_entries = Table(
    "decision_entries",
    metadata,
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("hash", String(64), nullable=False),
    Column("document", Json, nullable=False),
)

decision_checkpoints = Table(
    "decision_checkpoints",
    metadata,
    Column("size", Integer, primary_key=True, autoincrement=False),
    Column("document", Json, nullable=False),
)

# --- governance --------------------------------------------------------------

# The community's members: local or remote actors on any fediverse server.
# state: requested, invited, member, suspended, left, rejected, excluded.
members = Table(
    "members",
    metadata,
    Column("actor", String(2048), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("role", String(16), nullable=False, server_default="member"),
    Column("college", String(64), nullable=False, server_default=""),
    # The Join or Invite activity the membership started from.
    Column("activity_id", String(2048), nullable=False),
    # The decision-log entry of the last decision about this member.
    Column("decision", Integer, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_members_state", "state"),
)

# The charter: each version kept, with the decision-log entry that adopted it.
charter_versions = Table(
    "charter_versions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),  # Markdown-ish plain text, as adopted
    Column("decision", Integer, nullable=False),
    Column("adopted_at", Float, nullable=False),
)

# Reports (Flag) and their mediation: open → decided → appealed → final.
reports = Table(
    "reports",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("activity_id", String(2048), nullable=False, unique=True),
    Column("reporter", String(2048), nullable=False),
    Column("targets", Json, nullable=False),  # reported actors and objects
    Column("comment", Text, nullable=False, server_default=""),
    Column("state", String(16), nullable=False),
    Column("decision", String(16), nullable=True),  # dismiss, warn, hide, …
    Column("decided_by", String(200), nullable=True),
    Column("appeal", Text, nullable=True),
    Column("final_decision", String(16), nullable=True),
    Column("final_by", String(200), nullable=True),
    Column("log_entry", Integer, nullable=True),  # the last recorded decision
    Column("received_at", Float, nullable=False),
    Column("decide_by", Float, nullable=False),  # deadline for the first decision
    Column("appeal_until", Float, nullable=True),  # deadline to appeal
    Column("updated_at", Float, nullable=False),
    Index("ix_reports_state", "state"),
)

# Proposals (published as Questions) and the votes received for them.
proposals = Table(
    "proposals",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    # rule, quorum, threshold, college, options, grades (best first), weights
    Column("settings", Json, nullable=False),
    Column("electorate", Json, nullable=False),  # voter IRI → college, fixed at opening
    Column("state", String(16), nullable=False),  # open, closed
    Column("opens_at", Float, nullable=False),
    Column("closes_at", Float, nullable=False),
    Column("tally", Json, nullable=True),  # the published tally document
    Column("outcome", String(16), nullable=True),  # the tally's, once closed
    Column("decision", Integer, nullable=True),  # its decision-log entry
    # A charter text adopted if the proposal is: the version it became, once it did.
    Column("charter_title", Text, nullable=True),
    Column("charter_text", Text, nullable=True),
    Column("charter_version", Integer, nullable=True),
)

ballots = Table(
    "ballots",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column(
        "proposal_seq",
        Id,
        ForeignKey("proposals.seq", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("voter", String(2048), nullable=False),
    Column("choice", String(64), nullable=True),  # None for graded ballots
    Column("reason", Text, nullable=False, server_default=""),  # of an objection
    Column("grades", Json, nullable=True),  # option → grade (majority judgment)
    Column("note_id", String(2048), nullable=False, server_default=""),
    Column("cast_at", Float, nullable=False),
    # What makes two deliveries one ballot: "vote:<option>" for a poll vote,
    # which is (voter, question, option) whatever its id (INTEROP.md, "Polls");
    # a hash of the reply's id or of the ballot's content otherwise.
    Column("dedupe_key", String(80), nullable=False),
    UniqueConstraint("proposal_seq", "voter", "dedupe_key"),
)

# --- mirrors of peers' decision logs ------------------------------------------

# The decision logs of the nodes we follow, mirrored so that each can be
# verified from here alone (DESIGN.md, "Governance"): one row per mirrored log
# (its IRI, ``…/log``), with the latest checkpoint held and a copy of the keys
# that signed it.  ``host`` names the mirror under /log/mirrors/{host}.
log_mirrors = Table(
    "log_mirrors",
    metadata,
    Column("origin", String(2048), primary_key=True),
    Column("host", String(255), nullable=False, unique=True),
    Column("actor", String(2048), nullable=False),  # the followed actor there
    Column("size", Integer, nullable=False, server_default="0"),
    Column("checkpoint", Json, nullable=True),  # the latest held, as signed
    Column("signers", Json, nullable=False),  # key id → publicKeyMultibase
    Column("synced_at", Float, nullable=True),  # last sync that succeeded
    Column("last_error", Text, nullable=True),
    Column("updated_at", Float, nullable=False),
)

# Their entries and checkpoints, exactly as the origin signed them.  Entries
# are held only up to the size of a verified checkpoint.
log_mirror_entries = Table(
    "log_mirror_entries",
    metadata,
    Column("origin", String(2048), primary_key=True),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("hash", String(64), nullable=False),
    Column("document", Json, nullable=False),
)

log_mirror_checkpoints = Table(
    "log_mirror_checkpoints",
    metadata,
    Column("origin", String(2048), primary_key=True),
    Column("size", Integer, primary_key=True, autoincrement=False),
    Column("document", Json, nullable=False),
)

# Evidence: a signed checkpoint (or entry) a peer presented that contradicts
# one already mirrored.  Both documents are kept; the mirror never overwrites.
log_mirror_forks = Table(
    "log_mirror_forks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("origin", String(2048), nullable=False, index=True),
    Column("kind", String(32), nullable=False),  # fork, rollback, altered-entry
    Column("held", Json, nullable=False),
    Column("presented", Json, nullable=False),
    Column("reason", Text, nullable=False),
    # SHA-256 of the two documents: the same evidence is recorded once.
    Column("digest", String(64), nullable=False),
    Column("detected_at", Float, nullable=False),
    UniqueConstraint("origin", "digest"),
)

# --- moderation follow-ups ------------------------------------------------------

# Direct Notes sent about a report: the decision to the reported actor (whose
# reply to it is their appeal), the outcome to the reporter, the final outcome
# to the appellant, overdue warnings to moderators.  One per (report, kind,
# recipient), so a retried job never tells anyone twice.
report_notices = Table(
    "report_notices",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "report_id",
        Id,
        ForeignKey("reports.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("kind", String(32), nullable=False),
    Column("recipient", String(2048), nullable=False),
    Column("note_id", String(2048), nullable=True, index=True),
    Column("sent_at", Float, nullable=False),
    UniqueConstraint("report_id", "kind", "recipient"),
)

# Objects a "hide" decision took out of the node's pages.
hidden_objects = Table(
    "hidden_objects",
    metadata,
    Column("iri", String(2048), primary_key=True),
    Column(
        "report_id",
        Id,
        ForeignKey("reports.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("hidden_at", Float, nullable=False),
)
