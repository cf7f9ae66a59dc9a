"""How Auto Direct Debit's endpoints say the service's refusals: family C, HTTP 200 with a code other than "000"
(Bill24 publishes no ADD error; these codes are Tonle's, docs/direct-debit.md)."""

from __future__ import annotations

from tonle.directdebit import service
from tonle.wire import codes
from tonle.wire.errors import CodeTable

CODES: CodeTable = {
    service.DuplicateReference: codes.DD_DUPLICATE_REF,
    service.SubscriptionNotFound: codes.DD_SUBSCRIPTION_NOT_FOUND,
    service.AccountTokenNotFound: codes.DD_TOKEN_NOT_FOUND,
    service.AlreadyUnsubscribed: codes.DD_ALREADY_UNSUBSCRIBED,
    service.ConsumerNotFound: codes.DD_CONSUMER_NOT_FOUND,
}
