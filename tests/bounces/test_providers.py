"""Each provider's payload becomes the right events; its proof of origin is checked."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from clippost.bounces import postmark, sendgrid, ses
from clippost.bounces.events import EventKind, Provider
from clippost.errors import BadInput, ConfigurationError

from .conftest import SendgridSigner, ses_bounce

NOW = datetime.now(UTC)


class TestSesNotifications:
    def test_a_permanent_bounce_is_hard(self) -> None:
        """A Permanent bounce is a hard bounce naming our Message-ID and SES's message id."""
        (event,) = ses.events_from_notification(
            ses_bounce(message_id="<m1@clippost.test>"), sns_message_id="sns-1"
        )
        assert event.provider is Provider.SES
        assert event.kind is EventKind.HARD_BOUNCE
        assert event.recipient == "gone@example.org"
        assert event.message_id == "<m1@clippost.test>"
        assert event.provider_message_id == "0102017f-ses-message-0001"
        assert event.event_id == "0102017f-bounce-0001:gone@example.org"
        assert event.occurred_at == datetime(2026, 12, 14, 7, 0, 29, tzinfo=UTC)
        assert "5.1.1" in event.detail

    @pytest.mark.parametrize("bounce_type", ["Transient", "Undetermined"])
    def test_other_bounces_are_soft(self, bounce_type: str) -> None:
        """Transient and Undetermined bounces are soft."""
        message = ses_bounce(message_id="<m@x>", bounce_type=bounce_type)
        (event,) = ses.events_from_notification(message, sns_message_id="sns-1")
        assert event.kind is EventKind.SOFT_BOUNCE

    def test_event_publishing_and_complaints(self) -> None:
        """A configuration-set Complaint event (eventType) gives one complaint per recipient."""
        message = json.dumps(
            {
                "eventType": "Complaint",
                "complaint": {
                    "complainedRecipients": [{"emailAddress": "A@Example.org"}],
                    "feedbackId": "fb-9",
                    "complaintFeedbackType": "abuse",
                    "timestamp": "2026-12-14T09:00:00Z",
                },
                "mail": {
                    "messageId": "ses-9",
                    "headers": [{"name": "Message-ID", "value": "<m9@x>"}],
                },
            }
        )
        (event,) = ses.events_from_notification(message, sns_message_id="sns-9")
        assert (event.kind, event.recipient, event.message_id) == (
            EventKind.COMPLAINT,
            "a@example.org",
            "<m9@x>",
        )

    def test_not_spam_and_other_messages_give_nothing(self) -> None:
        """A not-spam complaint, other notification types and non-JSON give no events."""
        not_spam = json.dumps(
            {
                "notificationType": "Complaint",
                "complaint": {
                    "complainedRecipients": [{"emailAddress": "a@example.org"}],
                    "complaintFeedbackType": "not-spam",
                },
                "mail": {},
            }
        )
        for message in (not_spam, '{"notificationType": "AmazonSnsSubscriptionSucceeded"}', "hi"):
            assert ses.events_from_notification(message, sns_message_id="s") == []

    def test_deliveries_are_recorded(self) -> None:
        """A Delivery notification gives one delivery event per recipient."""
        message = json.dumps(
            {
                "notificationType": "Delivery",
                "delivery": {"recipients": ["r@example.org"], "smtpResponse": "250 ok"},
                "mail": {"messageId": "ses-1"},
            }
        )
        (event,) = ses.events_from_notification(message, sns_message_id="sns-5")
        assert (event.kind, event.event_id) == (EventKind.DELIVERY, "sns-5:r@example.org")

    def test_a_malformed_notification_is_bad_input(self) -> None:
        """A bounce without recipient addresses is refused as bad input."""
        message = json.dumps(
            {"notificationType": "Bounce", "bounce": {"bouncedRecipients": [{}]}, "mail": {}}
        )
        with pytest.raises(BadInput):
            ses.events_from_notification(message, sns_message_id="s")


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class TestPostmarkAuth:
    def test_the_configured_credentials_pass(self) -> None:
        """The configured user and password pass."""
        postmark.check_basic_auth(_basic("hook", "s3cret"), username="hook", password="s3cret")

    @pytest.mark.parametrize(
        "header",
        [
            None,
            "",
            _basic("hook", "wrong"),
            _basic("other", "s3cret"),
            _basic("hook", "s3cret2"),
            _basic("hook", "s3cre"),
            "Bearer s3cret",
            "Basic !!!",
            "Basic " + base64.b64encode(b"\xff\xfe").decode(),
        ],
    )
    def test_anything_else_is_unauthorized(self, header: str | None) -> None:
        """Missing, wrong, partial or malformed credentials are refused with 401."""
        with pytest.raises(postmark.Unauthorized) as refused:
            postmark.check_basic_auth(header, username="hook", password="s3cret")
        assert refused.value.status_code == 401


def _postmark(**fields: object) -> bytes:
    record = {
        "RecordType": "Bounce",
        "ID": 4323372036854775807,
        "Type": "HardBounce",
        "TypeCode": 1,
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Description": "The server was unable to deliver your message (ex: unknown user).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": "Gone@Example.org",
        "BouncedAt": "2026-12-14T07:00:54.9070259Z",
        **fields,
    }
    return json.dumps(record).encode()


class TestPostmarkRecords:
    def test_a_hard_bounce(self) -> None:
        """A HardBounce is a hard bounce keyed by Postmark's record ID."""
        (event,) = postmark.events_from_webhook(_postmark())
        assert event.kind is EventKind.HARD_BOUNCE
        assert event.event_id == "4323372036854775807"
        assert event.recipient == "gone@example.org"
        assert event.provider_message_id == "883953f4-6105-42a2-a16a-77a8eac79483"
        assert event.occurred_at == datetime(2026, 12, 14, 7, 0, 54, 907025, tzinfo=UTC)

    @pytest.mark.parametrize(
        ("record", "kind"),
        [
            ({"Type": "SoftBounce"}, EventKind.SOFT_BOUNCE),
            ({"Type": "DnsError"}, EventKind.SOFT_BOUNCE),
            ({"RecordType": "SpamComplaint", "Type": "SpamComplaint"}, EventKind.COMPLAINT),
        ],
    )
    def test_kinds(self, record: dict[str, str], kind: EventKind) -> None:
        """Soft types are soft bounces; a SpamComplaint record is a complaint."""
        (event,) = postmark.events_from_webhook(_postmark(**record))
        assert event.kind is kind

    @pytest.mark.parametrize(
        "record", [{"Type": "AutoResponder"}, {"Type": "AddressChange"}, {"RecordType": "Open"}]
    )
    def test_records_not_about_delivery_are_skipped(self, record: dict[str, str]) -> None:
        """Auto-responders, address changes and other record types give no event."""
        assert postmark.events_from_webhook(_postmark(**record)) == []

    @pytest.mark.parametrize("body", [b"nope", b"[1]", _postmark(ID=None), _postmark(ID=True)])
    def test_malformed_records_are_bad_input(self, body: bytes) -> None:
        """A body that is not one Postmark record with an ID is refused as bad input."""
        with pytest.raises(BadInput):
            postmark.events_from_webhook(body)


class TestSendgridSignature:
    def test_a_signed_body_verifies(self, sendgrid_signer: SendgridSigner) -> None:
        """SendGrid's signature over timestamp + body verifies with its public key."""
        body = b'[{"event":"bounce"}]'
        headers = sendgrid_signer.headers(body)
        key = sendgrid.load_public_key(sendgrid_signer.public_key)
        sendgrid.verify(
            key,
            signature=headers["X-Twilio-Email-Event-Webhook-Signature"],
            timestamp=headers["X-Twilio-Email-Event-Webhook-Timestamp"],
            body=body,
            now=NOW,
            tolerance_seconds=600,
        )

    @pytest.mark.parametrize("change", ["body", "timestamp", "stale", "key", "missing"])
    def test_anything_altered_is_refused(
        self, sendgrid_signer: SendgridSigner, change: str
    ) -> None:
        """An altered body or timestamp, an old timestamp, another key or no signature fail."""
        body = b'[{"event":"bounce"}]'
        at = NOW - timedelta(hours=1) if change == "stale" else NOW
        headers = sendgrid_signer.headers(body, at=at)
        signature = headers["X-Twilio-Email-Event-Webhook-Signature"]
        timestamp = headers["X-Twilio-Email-Event-Webhook-Timestamp"]
        key = sendgrid.load_public_key(sendgrid_signer.public_key)
        if change == "body":
            body += b" "
        if change == "timestamp":
            timestamp = str(int(timestamp) + 1)
        if change == "key":
            key = ec.generate_private_key(ec.SECP256R1()).public_key()
        if change == "missing":
            signature = ""
        with pytest.raises(sendgrid.SignatureRefused):
            sendgrid.verify(
                key,
                signature=signature,
                timestamp=timestamp,
                body=body,
                now=NOW,
                tolerance_seconds=600,
            )

    @pytest.mark.parametrize("text", ["not a key", base64.b64encode(b"junk").decode()])
    def test_a_bad_key_stops_the_start(self, text: str) -> None:
        """A configured key that is not an ECDSA public key is a configuration error."""
        with pytest.raises(ConfigurationError):
            sendgrid.load_public_key(text)

    def test_pem_keys_are_accepted(self, sendgrid_signer: SendgridSigner) -> None:
        """The key may be given as PEM too."""
        der = base64.b64decode(sendgrid_signer.public_key)
        pem = "-----BEGIN PUBLIC KEY-----\n" + base64.encodebytes(der).decode()
        pem += "-----END PUBLIC KEY-----\n"
        assert sendgrid.load_public_key(pem).curve.name == "secp256r1"


class TestSendgridEvents:
    def test_events_by_kind(self) -> None:
        """bounce, blocked, dropped, spamreport and delivered map to kinds; opens are skipped."""
        posted = [
            {
                "event": "bounce",
                "type": "bounce",
                "email": "a@x.org",
                "sg_event_id": "e1",
                "sg_message_id": "Ob1fPVfGRmC9JGqXu_5pHg.filterdrecv-p3las1-5bf99c48d-19-0",
                "smtp-id": "<m1@clippost.test>",
                "timestamp": 1765695612,
                "status": "5.1.1",
            },
            {"event": "bounce", "type": "blocked", "email": "b@x.org", "sg_event_id": "e2"},
            {"event": "blocked", "email": "c@x.org", "sg_event_id": "e3"},
            {
                "event": "dropped",
                "reason": "Bounced Address",
                "email": "d@x.org",
                "sg_event_id": "e4",
            },
            {
                "event": "dropped",
                "reason": "Spam Reporting Address",
                "email": "e@x.org",
                "sg_event_id": "e5",
            },
            {
                "event": "dropped",
                "reason": "Unsubscribed Address",
                "email": "f@x.org",
                "sg_event_id": "e6",
            },
            {"event": "spamreport", "email": "g@x.org", "sg_event_id": "e7"},
            {"event": "delivered", "email": "h@x.org", "sg_event_id": "e8"},
            {"event": "open", "email": "i@x.org", "sg_event_id": "e9"},
            "not an event",
        ]
        events = sendgrid.events_from_webhook(json.dumps(posted).encode())
        assert [(e.event_id, e.kind) for e in events] == [
            ("e1", EventKind.HARD_BOUNCE),
            ("e2", EventKind.SOFT_BOUNCE),
            ("e3", EventKind.SOFT_BOUNCE),
            ("e4", EventKind.HARD_BOUNCE),
            ("e5", EventKind.COMPLAINT),
            ("e7", EventKind.COMPLAINT),
            ("e8", EventKind.DELIVERY),
        ]
        first = events[0]
        assert first.provider_message_id == "Ob1fPVfGRmC9JGqXu_5pHg"
        assert first.message_id == "<m1@clippost.test>"
        assert first.occurred_at == datetime.fromtimestamp(1765695612, UTC)

    def test_an_event_without_an_id_is_keyed_by_its_content(self) -> None:
        """Without sg_event_id the same event posted twice gets the same key."""
        body = json.dumps([{"event": "spamreport", "email": "g@x.org"}] * 2).encode()
        first, second = sendgrid.events_from_webhook(body)
        assert first.event_id == second.event_id
        assert first.event_id.startswith("sha256:")

    @pytest.mark.parametrize("body", [b"{}", b"nope"])
    def test_not_an_array_is_bad_input(self, body: bytes) -> None:
        """The body must be a JSON array."""
        with pytest.raises(BadInput):
            sendgrid.events_from_webhook(body)
