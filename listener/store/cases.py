"""Cases: classifications filed into cases, brand replies, actions; each case's history for the engine."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from listener.domain import Mention, Reply
from listener.events import EventKind, clock_event, mention_event
from listener.sla.casefile import (
    ACTIONS,
    CaseAction,
    CaseHistory,
    CaseMessage,
    CaseReply,
    MentionFacts,
    Outcome,
    clock_key,
    message_kind,
    resolve_case,
)
from listener.store.clocks import ClockStore
from listener.store.db import Executes, SinkRouter, _primary_brand, iso, parse_iso
from listener.text import clean_text
from models.base import Classification

# "Not a complaint" labels (`listener label`) that are not the correction a button wrote with its action.
CORRECTION_DISMISSALS_SQL = """SELECT k.id, k."by", k.created_at, k.mention_key FROM corrections k
   WHERE k.complaint = 0 AND NOT EXISTS (SELECT 1 FROM actions a WHERE a.action = 'not_complaint'
         AND a.mention_key = k.mention_key AND a.at = k.created_at AND a.user = k."by")"""


def read_case_messages(db: Executes, where: str, params: Sequence[Any], competitors: Collection[str] = ()
                       ) -> list[CaseMessage]:
    """Classified mentions as case messages (a "complaint: no/yes" correction overrides the model).

    Shared by the store and `listener backtest`, so both file the same facts into cases.
    """
    rows = db.execute(
        f"""SELECT m.key, m.source, m.author, m.text, m.author_followers, m.created_at, m.fetched_at,
                   m.edited_at, m.channel, m.rating, cl.scored, cl.complaint, cl.sentiment,
                   (SELECT group_concat(b.brand, char(31)) FROM mention_brands b WHERE b.mention_key = m.key),
                   (SELECT k.complaint FROM corrections k WHERE k.mention_key = m.key
                    AND k.complaint IS NOT NULL ORDER BY k.id DESC LIMIT 1),
                   cl.unsure,
                   (SELECT k.created_at FROM corrections k WHERE k.mention_key = m.key
                    AND k.complaint IS NOT NULL ORDER BY k.id DESC LIMIT 1)
            FROM mentions m JOIN classifications cl ON cl.mention_key = m.key WHERE {where}""",
        list(params),
    ).fetchall()
    rivals = frozenset(competitors)
    messages = []
    for r in rows:
        # "Not a complaint" keeps the facts the clock was opened on (the dismissal closes it, see
        # `SyncStore._history`) but stops the message restarting a clock; "a complaint" can open one.
        corrected = bool(r[11]) if r[14] is None else bool(r[14])
        complaint = bool(r[11]) or corrected
        scored = bool(r[10]) or r[14] is not None
        brand = _primary_brand((r[13] or "").split("\x1f") if r[13] else (), rivals)
        facts = MentionFacts(brand=brand, source=r[1], channel=r[8] or "public_mention", author=r[2] or "",
                             followers=r[4], text=r[3] or "", is_complaint=complaint, rating=r[9])
        messages.append(CaseMessage(
            key=r[0], at=parse_iso(r[5]) or datetime.now(UTC), author=r[2] or "", facts=facts,
            kind=message_kind(scored=scored, complaint=corrected, sentiment=r[12], text=r[3] or ""),
            seen_at=parse_iso(r[6]), edited_at=parse_iso(r[7]),
            # A person's "yes, a complaint" settles an unsure judgement (from when they said it).
            unsure=bool(r[15]), confirmed_at=parse_iso(r[16]) if r[14] == 1 else None,
        ))
    return messages


class CaseStore(ClockStore):
    """File classified mentions into cases; record replies and actions; hand each case to the engine."""

    def save_classifications(
        self,
        results: Sequence[tuple[Mention, Classification]],
        now: datetime,
        router: SinkRouter | None = None,
    ) -> list[str]:
        """Store labels, open a clock where a policy covers the mention, queue mention events.

        Returns the keys of the clocks opened.
        """
        opened: list[str] = []
        with self.db.atomic():
            for mention, result in results:
                self.db.table("classifications").upsert(
                    {
                        "mention_key": mention.key,
                        "model_id": result.model_id,
                        "scored": int(result.scored),
                        "sentiment": result.sentiment.value if result.sentiment else None,
                        "p_negative": result.p_negative,
                        "p_neutral": result.p_neutral,
                        "p_positive": result.p_positive,
                        "complaint": int(result.complaint),
                        "p_complaint": result.p_complaint,
                        "language": result.language,
                        "unscored_reason": result.unscored_reason,
                        "unsure": int(result.unsure),
                        "classified_at": iso(now),
                    },
                    pk="mention_key",
                )
                self.db.execute("UPDATE mentions SET classified_at = ? WHERE key = ?", [iso(now), mention.key])
                brand = _primary_brand(mention.brands, self.competitors)
                if result.scored and brand and self._file(mention, brand, now, router):
                    opened.append(mention.key)
                if router is not None:
                    self._enqueue(mention_event(mention, result, brand, now), router)
        return opened

    def _file(self, mention: Mention, brand: str, now: datetime, router: SinkRouter | None) -> bool:
        """File a classified mention into its case (or a new one); True when it opened a new clock."""
        (message,) = self._messages_where("m.key = ?", [mention.key]) or (None,)
        if message is None:
            return False
        case = self._member_of(mention.key) or self._linked_case(mention, message) or mention.key
        self.db.execute("INSERT OR IGNORE INTO case_members VALUES (?, ?)", [mention.key, case])
        decision, opened = self._settle(case, now, router)
        if decision.clock is None and not self._has_clock(case):
            self.db.execute("DELETE FROM case_members WHERE mention_key = ? AND case_key = ?", [mention.key, case])
        else:  # replies to it that were classified before it had a case join now
            self._adopt_replies(mention, now, router)
        return opened

    def _adopt_replies(self, mention: Mention, now: datetime, router: SinkRouter | None) -> None:
        """Messages classified before this one had a case are filed again now: the replies to it, and
        the same customer's messages within the follow-up window (the case rules decide if they join)."""
        window = self.engine.rules.follow_up_window
        rows = self.db.execute(
            """SELECT m.key FROM mentions m JOIN classifications cl ON cl.mention_key = m.key
               WHERE ((m.source = ? AND m.in_reply_to = ?)
                      OR (m.source = ? AND m.author = ? AND m.created_at BETWEEN ? AND ?))
                 AND cl.scored = 1 AND m.key != ?
                 AND NOT EXISTS (SELECT 1 FROM case_members cm WHERE cm.mention_key = m.key)
               ORDER BY m.created_at, m.key""",
            [mention.source, mention.external_id, mention.source, mention.author,
             iso(mention.created_at - window), iso(mention.created_at + window), mention.key],
        ).fetchall()
        for child in self.get_mentions([r[0] for r in rows]):
            if self._member_of(child.key):
                continue  # filed meanwhile, by an earlier adoption
            brand = _primary_brand(child.brands, self.competitors)
            if brand:
                self._file(child, brand, now, router)

    def reconsider(self, mention_key: str, now: datetime, router: SinkRouter | None = None) -> str:
        """Apply the case rules again after a correction (`listener label`); returns the outcome."""
        with self.db.atomic():
            case = self._case_of(mention_key)
            if case is not None and self._has_clock(case):
                return self._settle(case, now, router)[0].outcome.value
            (mention,) = self.get_mentions([mention_key]) or (None,)
            brand = _primary_brand(mention.brands, self.competitors) if mention else ""
            if mention is None or not brand or not self._member_of(mention_key) and not self._file(
                    mention, brand, now, router):
                return Outcome.IGNORE.value
            return Outcome.OPEN.value

    def _member_of(self, key: str) -> str | None:
        row = self.db.execute("SELECT case_key FROM case_members WHERE mention_key = ?", [key]).fetchone()
        return str(row[0]) if row else None

    def _has_clock(self, case: str) -> bool:
        return self.db.execute("SELECT 1 FROM complaints WHERE mention_key = ?", [case]).fetchone() is not None

    def _linked_case(self, mention: Mention, message: CaseMessage) -> str | None:
        """The case this mention continues: its thread or conversation, else the author's recent case."""
        if mention.in_reply_to:
            case = self._case_of(f"{mention.source}:{mention.in_reply_to}")
            if case is not None and self._has_clock(case):
                return case
        if mention.conversation_id:
            found = self.db.execute(
                """SELECT c.mention_key FROM complaints c JOIN mentions m ON m.key = c.mention_key
                   WHERE m.source = ? AND m.conversation_id = ? AND c.mention_key != ? ORDER BY c.opened_at LIMIT 1""",
                [mention.source, mention.conversation_id, mention.key],
            ).fetchone()
            if found:
                return str(found[0])
        # CROSS JOIN makes SQLite start from the author's mentions (index on source, author), not from
        # every complaint of the brand in the window: that was quadratic in a burst of complaints.
        window = self.engine.rules.follow_up_window
        found = self.db.execute(
            """SELECT c.mention_key, c.brand, c.opened_at
               FROM mentions m CROSS JOIN complaints c ON m.key = c.mention_key
               WHERE c.brand = ? AND m.source = ? AND m.author = ?
                 AND c.opened_at BETWEEN ? AND ? AND c.mention_key != ? ORDER BY c.opened_at DESC LIMIT 1""",
            [message.facts.brand, mention.source, mention.author, iso(mention.created_at - window),
             iso(mention.created_at + window), mention.key],
        ).fetchone()
        if found and self.engine.joins(message, "author", found[1], parse_iso(found[2]) or mention.created_at):
            return str(found[0])
        return None

    def _messages_where(self, where: str, params: Sequence[Any]) -> list[CaseMessage]:
        return read_case_messages(self.db, where, params, self.competitors)

    def _history(self, case: str) -> CaseHistory:
        """Everything stored about a case: its members, the counted replies to them, the actions on it."""
        members = "SELECT mention_key FROM case_members WHERE case_key = ?"
        messages = self._messages_where(f"m.key IN ({members})", [case])
        replies = [
            CaseReply(r[0], r[1], parse_iso(r[2]) or datetime.now(UTC))
            for r in self.db.execute(
                f"""SELECT r.key, r.author, r.created_at FROM replies r WHERE r.counts = 1 AND (
                        r.mention_key IN ({members})
                        OR r.mention_key IN (SELECT sighting_key FROM mention_sightings
                                             WHERE mention_key IN ({members}))
                        OR r.mention_key IN (SELECT key FROM replies WHERE mention_key IN ({members})))""",
                [case, case, case],
            )
        ]
        actions = [
            CaseAction(r[0], r[1] or "", parse_iso(r[2]) or datetime.now(UTC), r[3] or "", parse_iso(r[4]), r[5])
            for r in self.db.execute(
                f"""SELECT action, user, at, request_key, until, assignee FROM actions
                    WHERE mention_key = ? OR mention_key IN ({members})""",
                [case, case],
            )
        ]
        # A "not a complaint" label on the case's first message dismisses the case, as the button does.
        actions += [
            CaseAction("not_complaint", r[1] or "label", parse_iso(r[2]) or datetime.now(UTC), f"label-{r[0]}")
            for r in self.db.execute(
                CORRECTION_DISMISSALS_SQL + " AND k.mention_key = ?", [case]
            )
        ]
        return CaseHistory(tuple(messages), tuple(replies), tuple(actions))

    def _reopen(self, key: str, edited_at: datetime, now: datetime) -> None:
        """An edit after the brand's answer starts a new round of the clock (the case rules decide)."""
        case = self._case_of(key)
        if case is not None and self._has_clock(case):
            self._settle(case, now, None)

    def record_replies(self, replies: Sequence[Reply], now: datetime, router: SinkRouter | None = None) -> int:
        """Store brand replies and stop the clocks they answer; return how many clocks stopped."""
        with self.db.atomic():
            return self._record_replies(replies, now, router)

    def _record_replies(self, replies: Sequence[Reply], now: datetime, router: SinkRouter | None) -> int:
        cases: list[str] = []
        for reply in replies:
            key = f"{reply.source}:{reply.external_id}"
            counts = not self._is_bot(reply.source, reply.author)  # an auto-reply is not an answer
            self.db.execute(
                """INSERT OR IGNORE INTO replies (key, mention_key, source, author, created_at, url, text, seen_at,
                                                  counts)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [key, reply.mention_key, reply.source, reply.author, iso(reply.created_at),
                 clean_text(reply.url, limit=2000), clean_text(reply.text), iso(now), int(counts)],
            )
            case = self._case_of(reply.mention_key) if counts else None
            if case is not None and case not in cases and self._has_clock(case):
                cases.append(case)
        stopped = 0
        for case in cases:
            before = self.db.execute("SELECT state FROM complaints WHERE mention_key = ?", [case]).fetchone()
            decision, _ = self._settle(case, now, router)
            if before and before[0] == "open" and decision.outcome in (Outcome.REPLIED, Outcome.REPLIED_LATE):
                stopped += 1
        return stopped

    def _case_of(self, mention_key: str) -> str | None:
        """The case a reply to `mention_key` answers: the mention's case, found through
        duplicates (sightings), case membership (follow-ups) and the reply chain."""

        def alias(key: str) -> str | None:
            row = self.db.execute("SELECT mention_key FROM mention_sightings WHERE sighting_key = ?", [key]).fetchone()
            return row[0] if row else None

        def up(key: str) -> str | None:
            row = self.db.execute("SELECT source, in_reply_to FROM mentions WHERE key = ?", [key]).fetchone()
            if row is not None:
                return f"{row[0]}:{row[1]}" if row[1] else None
            answered = self.db.execute("SELECT mention_key FROM replies WHERE key = ?", [key]).fetchone()
            return answered[0] if answered else None  # a brand reply: continue with the message it answered

        return resolve_case(mention_key, alias=alias, case_of_member=self._member_of, up=up)

    def acknowledge(self, mention_key: str, by: str, now: datetime, router: SinkRouter | None = None) -> bool:
        """Stop a complaint's clock by hand (`listener ack`: answered elsewhere); False when no open clock."""
        result = self.take_action(mention_key, "acknowledged", by, now, router,
                                  request_key=f"ack:{mention_key}:{iso(now)}:{by}")
        return result == "done"

    def take_action(
        self, mention_key: str, action: str, user: str, now: datetime, router: SinkRouter | None,
        *, request_key: str, snooze: timedelta = timedelta(minutes=30), assignee: str | None = None,
        via: str | None = None,
    ) -> str:
        """Apply a Slack button, a web queue action (ack, assign, snooze, not_complaint, replied) or `listener ack`
        once per request.

        `assign` gives the clock to `assignee` (default: `user`, who pressed it); `via` records where from.

        Returns "done", "duplicate" (this request was applied before) or "closed" (no open clock).
        """
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        with self.db.atomic():
            until = now + snooze if action == "snooze" else None
            cur = self.db.execute(
                "INSERT OR IGNORE INTO actions (request_key, mention_key, action, user, at, until, assignee, via) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [request_key, mention_key, action, user, iso(now), iso(until) if until else None,
                 assignee if action == "assign" else None, via],
            )
            if cur.rowcount == 0:
                return "duplicate"
            case = self._case_of(mention_key) or mention_key
            if not self._has_clock(case):
                # An unsure judgement without a clock (probably not a complaint) waits in the review list:
                # "confirm" files it as a complaint, "not a complaint" takes it off the list.
                if action in ("confirm", "not_complaint") and self._awaits_review(mention_key):
                    self._correct(mention_key, int(action == "confirm"), user, now)
                    if action == "confirm":
                        self.reconsider(mention_key, now, router)
                    return "done"
                return "closed"
            if action == "confirm" and not self.db.execute(
                    "SELECT unsure FROM complaints WHERE mention_key = ?", [case]).fetchone()[0]:
                return "closed"  # nothing unsure to confirm in the running round
            if action in ("not_complaint", "confirm"):  # also a label correction of the case's message, for training
                # The action itself confirms the round running when it was taken (the case rules replay it),
                # so the case's facts never depend on which of its messages we had learned of by then.
                self._correct(case, int(action == "confirm"), user, now)
            decision, _ = self._settle(case, now, router)
            if action == "confirm":  # also settles an answered round (a late answer becomes a breach)
                return "done" if decision.outcome is Outcome.CONFIRMED else "closed"
            clock = decision.clock
            if clock is None or not any(a.request_key == request_key for a in clock.applied):
                return "closed"  # the round had ended before this action
            brand = self.db.execute("SELECT brand FROM complaints WHERE mention_key = ?", [clock.case_key]).fetchone()
            if router is not None and action in ("ack", "assign", "snooze") and brand[0] not in self.competitors:
                state = (f"snoozed until {until:%H:%M} UTC by {user}" if until is not None
                         else f"acknowledged by {user}" if action == "ack" else _assigned(assignee or user, user))
                self._enqueue(clock_event(
                    self._clock_view(clock.case_key), EventKind.ACTION, now,
                    f"{clock_key(clock.case_key, clock.round)}:{action}:{request_key}", state=state, detail=user,
                ), router)
            return "done"

    def _correct(self, mention_key: str, complaint: int, user: str, now: datetime) -> None:
        """A person's "complaint: yes/no" on a mention, stored as a label correction (training, the case rules)."""
        text = self.db.execute("SELECT text FROM mentions WHERE key = ?", [mention_key]).fetchone()
        self.db.execute(
            """INSERT INTO corrections (mention_key, text, sentiment, complaint, "by", created_at)
               VALUES (?, ?, NULL, ?, ?, ?)""",
            [mention_key, text[0] if text else "", complaint, user, iso(now)],
        )

    def _awaits_review(self, mention_key: str) -> bool:
        """An unsure judgement nobody has corrected yet."""
        return self.db.execute(
            """SELECT 1 FROM classifications cl WHERE cl.mention_key = ? AND cl.unsure = 1 AND NOT EXISTS (
                   SELECT 1 FROM corrections k WHERE k.mention_key = cl.mention_key AND k.complaint IS NOT NULL)""",
            [mention_key],
        ).fetchone() is not None


def _assigned(owner: str, by: str) -> str:
    """The state line of an assignment: "assigned to sam", or "assigned to sam by dana" when someone else chose."""
    return f"assigned to {owner}" + (f" by {by}" if owner != by else "")
