"""SQL for the analyst schema: hourly rollup tables kept current by triggers, and stable views.

Only built-in SQLite functions are used, so any SQLite client (datasette included) can read it.

The rollups are maintained in the same transaction as the write that changes them: triggers on
`classifications`, `mention_brands` and `mentions` add or subtract one mention's contribution.
A mention counts once it has both its row in `mentions` and its classification.
"""

from __future__ import annotations

# The language of a mention: what the classifier detected, else what the source said.
LANGUAGE_EXPR = "COALESCE(NULLIF({c}.language, ''), NULLIF({m}.lang, ''), 'und')"

# Who handled a clock: the person it was assigned to, else whoever closed it (a reply's author).
ASSIGNEE_SQL = (
    "COALESCE(NULLIF({k}.assigned_to, ''), "
    "CASE WHEN {k}.closed_by LIKE 'reply by %' THEN substr({k}.closed_by, 10) ELSE {k}.closed_by END)"
)

COUNT_COLUMNS = ("mentions", "scored", "negative", "neutral", "positive", "complaints")

CREATE_ROLLUPS = [
    """CREATE TABLE IF NOT EXISTS trend_hourly (
        hour TEXT NOT NULL,
        source TEXT NOT NULL,
        language TEXT NOT NULL,
        mentions INTEGER NOT NULL DEFAULT 0,
        scored INTEGER NOT NULL DEFAULT 0,
        negative INTEGER NOT NULL DEFAULT 0,
        neutral INTEGER NOT NULL DEFAULT 0,
        positive INTEGER NOT NULL DEFAULT 0,
        complaints INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (hour, source, language)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS trend_brand_hourly (
        hour TEXT NOT NULL,
        brand TEXT NOT NULL,
        source TEXT NOT NULL,
        language TEXT NOT NULL,
        mentions INTEGER NOT NULL DEFAULT 0,
        scored INTEGER NOT NULL DEFAULT 0,
        negative INTEGER NOT NULL DEFAULT 0,
        neutral INTEGER NOT NULL DEFAULT 0,
        positive INTEGER NOT NULL DEFAULT 0,
        complaints INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (hour, brand, source, language)
    ) WITHOUT ROWID""",
    # Covers the SLA report's scan of a time range, so it never visits the table rows.
    "CREATE INDEX IF NOT EXISTS idx_complaints_sla ON complaints "
    "(opened_at, brand, source, state, deadline, closed_at, response_seconds, closed_by)",
]


def _counts(c: str, sign: int) -> str:
    """The six counters one classified mention contributes, times `sign` (+1 or -1)."""
    return ", ".join(
        [
            f"{sign}",
            f"{sign} * ({c}.sentiment IS NOT NULL)",
            f"{sign} * COALESCE({c}.sentiment = 'negative', 0)",
            f"{sign} * COALESCE({c}.sentiment = 'neutral', 0)",
            f"{sign} * COALESCE({c}.sentiment = 'positive', 0)",
            f"{sign} * ({c}.sentiment IS NOT NULL AND COALESCE({c}.complaint, 0) != 0)",
        ]
    )


_ACCUMULATE = "ON CONFLICT DO UPDATE SET " + ", ".join(f"{k} = {k} + excluded.{k}" for k in COUNT_COLUMNS)
_COLS = ", ".join(COUNT_COLUMNS)


def _plain(m: str, c: str, sign: int, source: str) -> str:
    """Add (or subtract) to `trend_hourly`; `source` is the FROM/WHERE clause binding m and c."""
    lang = LANGUAGE_EXPR.format(c=c, m=m)
    return (
        f"INSERT INTO trend_hourly (hour, source, language, {_COLS}) "
        f"SELECT substr({m}.created_at, 1, 13), {m}.source, {lang}, {_counts(c, sign)} "
        f"{source} {_ACCUMULATE};"
    )


def _branded(m: str, c: str, brand: str, sign: int, source: str) -> str:
    """Add (or subtract) to `trend_brand_hourly`, one row per brand the mention names."""
    lang = LANGUAGE_EXPR.format(c=c, m=m)
    return (
        f"INSERT INTO trend_brand_hourly (hour, brand, source, language, {_COLS}) "
        f"SELECT substr({m}.created_at, 1, 13), {brand}, {m}.source, {lang}, {_counts(c, sign)} "
        f"{source} {_ACCUMULATE};"
    )


def _classification_delta(row: str, sign: int) -> str:
    # `row` is NEW or OLD of classifications; the mention may not exist (then nothing changes).
    return _plain("m", row, sign, f"FROM mentions m WHERE m.key = {row}.mention_key") + _branded(
        "m",
        row,
        "b.brand",
        sign,
        f"FROM mentions m JOIN mention_brands b ON b.mention_key = m.key WHERE m.key = {row}.mention_key",
    )


def _brand_delta(row: str, sign: int) -> str:
    # `row` is NEW or OLD of mention_brands: only that brand's rollup moves.
    return _branded(
        "m",
        "c",
        f"{row}.brand",
        sign,
        f"FROM mentions m JOIN classifications c ON c.mention_key = m.key WHERE m.key = {row}.mention_key",
    )


def _mention_delta(row: str, sign: int) -> str:
    # `row` is NEW or OLD of mentions (a deleted mention, or one whose time/source changed).
    return _plain(row, "c", sign, f"FROM classifications c WHERE c.mention_key = {row}.key") + _branded(
        row,
        "c",
        "b.brand",
        sign,
        f"FROM classifications c JOIN mention_brands b ON b.mention_key = c.mention_key "
        f"WHERE c.mention_key = {row}.key",
    )


CREATE_TRIGGERS = [
    "CREATE TRIGGER IF NOT EXISTS trg_trend_cls_insert AFTER INSERT ON classifications BEGIN "
    + _classification_delta("NEW", 1)
    + " END",
    "CREATE TRIGGER IF NOT EXISTS trg_trend_cls_delete AFTER DELETE ON classifications BEGIN "
    + _classification_delta("OLD", -1)
    + " END",
    "CREATE TRIGGER IF NOT EXISTS trg_trend_cls_update AFTER UPDATE ON classifications BEGIN "
    + _classification_delta("OLD", -1)
    + _classification_delta("NEW", 1)
    + " END",
    "CREATE TRIGGER IF NOT EXISTS trg_trend_brand_insert AFTER INSERT ON mention_brands BEGIN "
    + _brand_delta("NEW", 1)
    + " END",
    "CREATE TRIGGER IF NOT EXISTS trg_trend_brand_delete AFTER DELETE ON mention_brands BEGIN "
    + _brand_delta("OLD", -1)
    + " END",
    "CREATE TRIGGER IF NOT EXISTS trg_trend_mention_delete AFTER DELETE ON mentions BEGIN "
    + _mention_delta("OLD", -1)
    + " END",
    "CREATE TRIGGER IF NOT EXISTS trg_trend_mention_update AFTER UPDATE OF created_at, source, lang ON mentions "
    "WHEN OLD.created_at IS NOT NEW.created_at OR OLD.source IS NOT NEW.source OR OLD.lang IS NOT NEW.lang BEGIN "
    + _mention_delta("OLD", -1)
    + _mention_delta("NEW", 1)
    + " END",
]


def _rebuild_counts(c: str) -> str:
    return ", ".join(
        [
            "COUNT(*)",
            f"SUM({c}.sentiment IS NOT NULL)",
            f"SUM(COALESCE({c}.sentiment = 'negative', 0))",
            f"SUM(COALESCE({c}.sentiment = 'neutral', 0))",
            f"SUM(COALESCE({c}.sentiment = 'positive', 0))",
            f"SUM({c}.sentiment IS NOT NULL AND COALESCE({c}.complaint, 0) != 0)",
        ]
    )


_LANG_MC = LANGUAGE_EXPR.format(c="c", m="m")

REBUILD_ROLLUPS = [
    "DELETE FROM trend_hourly",
    "DELETE FROM trend_brand_hourly",
    f"""INSERT INTO trend_hourly (hour, source, language, {_COLS})
        SELECT substr(m.created_at, 1, 13) AS r_hour, m.source, {_LANG_MC} AS r_language, {_rebuild_counts("c")}
        FROM mentions m JOIN classifications c ON c.mention_key = m.key
        GROUP BY r_hour, m.source, r_language""",
    f"""INSERT INTO trend_brand_hourly (hour, brand, source, language, {_COLS})
        SELECT substr(m.created_at, 1, 13) AS r_hour, b.brand, m.source, {_LANG_MC} AS r_language,
               {_rebuild_counts("c")}
        FROM mentions m JOIN classifications c ON c.mention_key = m.key
        JOIN mention_brands b ON b.mention_key = m.key
        GROUP BY r_hour, b.brand, m.source, r_language""",
]

# SQL expression of the UTC period that contains an ISO timestamp (or a 'YYYY-MM-DDTHH' hour key).
BUCKET_SQL = {
    "hour": "substr({t}, 1, 13) || ':00:00Z'",
    "day": "substr({t}, 1, 10)",
    "week": "date(substr({t}, 1, 10), 'weekday 0', '-6 days')",
    "month": "substr({t}, 1, 7) || '-01'",
}

NOW_SQL = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

CREATE_VIEWS = [
    "DROP VIEW IF EXISTS v_mentions",
    f"""CREATE VIEW v_mentions AS
    SELECT m.key, m.source, m.external_id, m.created_at, substr(m.created_at, 1, 10) AS day,
           m.author, m.author_name, m.author_followers, m.url, m.text, m.lang, m.in_reply_to,
           (SELECT group_concat(brand, ',') FROM (SELECT brand FROM mention_brands b
                                                 WHERE b.mention_key = m.key ORDER BY brand)) AS brands,
           {_LANG_MC} AS language, c.sentiment, c.complaint, c.p_negative, c.p_neutral, c.p_positive,
           c.p_complaint, c.scored, c.unscored_reason, c.model_id, m.classified_at
    FROM mentions m LEFT JOIN classifications c ON c.mention_key = m.key""",
    "DROP VIEW IF EXISTS v_brand_mentions",
    f"""CREATE VIEW v_brand_mentions AS
    SELECT b.brand, m.key, m.source, m.created_at, substr(m.created_at, 1, 10) AS day, m.author, m.url, m.text,
           {_LANG_MC} AS language, c.sentiment, c.complaint, c.p_complaint, c.scored
    FROM mention_brands b JOIN mentions m ON m.key = b.mention_key
    LEFT JOIN classifications c ON c.mention_key = m.key""",
    "DROP VIEW IF EXISTS v_complaints",
    f"""CREATE VIEW v_complaints AS
    SELECT k.mention_key, k.brand, k.source, {LANGUAGE_EXPR.format(c="c", m="m")} AS language,
           k.opened_at, substr(k.opened_at, 1, 10) AS day,
           {BUCKET_SQL["week"].format(t="k.opened_at")} AS week,
           {BUCKET_SQL["month"].format(t="k.opened_at")} AS month,
           k.warn_at, k.deadline, k.state,
           k.state IN ('replied', 'acknowledged') AS answered,
           k.closed_at, k.close_reason,
           CASE WHEN k.closed_by LIKE 'reply by %' THEN substr(k.closed_by, 10) ELSE k.closed_by END AS assignee,
           k.response_seconds,
           CASE WHEN k.closed_at IS NOT NULL THEN k.closed_at <= k.deadline END AS within_target,
           (k.closed_at IS NOT NULL AND k.closed_at > k.deadline)
             OR (k.closed_at IS NULL AND k.deadline <= {NOW_SQL}) AS late,
           k.warned_at, k.breached_at, m.author, m.url, m.text
    FROM complaints k JOIN mentions m ON m.key = k.mention_key
    LEFT JOIN classifications c ON c.mention_key = k.mention_key""",
    "DROP VIEW IF EXISTS v_trend_daily",
    f"""CREATE VIEW v_trend_daily AS
    SELECT substr(hour, 1, 10) AS day, brand, source, language,
           {", ".join(f"SUM({k}) AS {k}" for k in COUNT_COLUMNS)}
    FROM trend_brand_hourly GROUP BY day, brand, source, language""",
]


# Applied by migration m006 (after m005 added the policy columns): the SLA index also covers the
# business-time columns, and v_complaints gains them. m002 keeps the definitions above so that a
# new database builds in order.
BUSINESS_TIME_INDEX = [
    "DROP INDEX IF EXISTS idx_complaints_sla",
    "CREATE INDEX IF NOT EXISTS idx_complaints_sla_business ON complaints "
    "(opened_at, brand, source, policy, state, is_complaint, deadline, closed_at, response_seconds, "
    "business_seconds, assigned_to, closed_by)",
]

BUSINESS_TIME_VIEWS = [
    "DROP VIEW IF EXISTS v_complaints",
    f"""CREATE VIEW v_complaints AS
    SELECT k.mention_key, k.brand, k.source, {LANGUAGE_EXPR.format(c="c", m="m")} AS language,
           k.opened_at, substr(k.opened_at, 1, 10) AS day,
           {BUCKET_SQL["week"].format(t="k.opened_at")} AS week,
           {BUCKET_SQL["month"].format(t="k.opened_at")} AS month,
           k.warn_at, k.deadline, k.state,
           k.state IN ('replied', 'acknowledged', 'marked_replied') AS answered,
           k.closed_at, k.close_reason,
           {ASSIGNEE_SQL.format(k="k")} AS assignee,
           k.response_seconds,
           CASE WHEN k.closed_at IS NOT NULL THEN k.closed_at <= k.deadline END AS within_target,
           (k.closed_at IS NOT NULL AND k.closed_at > k.deadline)
             OR (k.closed_at IS NULL AND k.deadline <= {NOW_SQL}) AS late,
           k.warned_at, k.breached_at, m.author, m.url, m.text,
           k.policy, k.calendar, k.kind, k.explain, k.business_seconds,
           COALESCE(k.is_complaint, 1) AS is_complaint,
           COALESCE(k.is_complaint, 1) != 0 AND k.state != 'not_complaint' AS counts_as_complaint,
           k.assigned_to, k.acked_at, k.acked_by, k.closed_by
    FROM complaints k JOIN mentions m ON m.key = k.mention_key
    LEFT JOIN classifications c ON c.mention_key = k.mention_key""",
]
