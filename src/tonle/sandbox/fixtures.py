"""``tonle seed FILE``: load a sandbox fixture file (shared/design/sandbox-fixtures.md).

The whole file is validated before anything is written; a bad file is refused with the path of the bad field.
Loading upserts, in one transaction: merchants by client id (else by name), banks by code, sub-billers by code,
customers by sync code, wallets by currency. A wallet balance is reached by a ledger entry from the merchant's
sandbox funding account, so loading the same file twice gives the same state and the ledger still balances.
"""

from __future__ import annotations

import secrets
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.banks.models import Bank
from tonle.customers import repository as customer_repo
from tonle.customers import service as customer_service
from tonle.customers.models import Customer, Wallet
from tonle.customers.schemas import CustomerInput, NewWallet
from tonle.kit import crypto
from tonle.kit.clock import clock
from tonle.kit.money import AmountError, to_minor
from tonle.kit.signing import is_valid_secret
from tonle.ledger import service as ledger
from tonle.ledger.models import Account
from tonle.merchants import service as merchant_service
from tonle.merchants.models import Merchant
from tonle.sandbox.models import SandboxAccount
from tonle.subbillers.models import SubBiller
from tonle.subbillers.service import new_number
from tonle.wire import wirejson
from tonle.wire.validate import EMAIL_RE


class FixtureError(ValueError):
    pass


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


Text = Field(min_length=1, max_length=255)


class WalletFx(_Strict):
    name: str = Text
    currency: Literal["KHR", "USD"]
    balance: Any = 0
    balance_minor: int = Field(default=0, exclude=True)

    @field_validator("balance")
    @classmethod
    def _amount(cls, v: Any, info: ValidationInfo) -> Any:
        if isinstance(v, float):  # YAML reads 250.00 as a float: take the digits as written
            v = Decimal(repr(v))
        currency = info.data.get("currency")
        if currency is None:
            return v
        try:
            to_minor(v, currency)
        except AmountError as exc:
            raise ValueError(f"invalid {currency} amount: {exc}") from None
        return v

    @model_validator(mode="after")
    def _minor(self) -> WalletFx:
        self.balance_minor = to_minor(self.balance, self.currency)
        return self


class CustomerFx(_Strict):
    sync_code: str = Field(min_length=1, max_length=50)
    name: str = Text
    name_kh: str | None = Field(default=None, max_length=255)
    phone: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=254)
    wallets: list[WalletFx] = Field(default_factory=list, max_length=2)

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v is not None and not EMAIL_RE.match(v):
            raise ValueError("not a valid e-mail address")
        return v

    @field_validator("wallets")
    @classmethod
    def _one_per_currency(cls, v: list[WalletFx]) -> list[WalletFx]:
        currencies = [w.currency for w in v]
        if len(set(currencies)) != len(currencies):
            raise ValueError("at most one wallet per currency")
        return v


class SubBillerFx(_Strict):
    code: str = Field(min_length=1, max_length=50)
    name: str = Text
    name_kh: str | None = Field(default=None, max_length=255)
    address: str | None = Field(default=None, max_length=500)


class MerchantFx(_Strict):
    name: str = Field(min_length=1, max_length=200)
    merchant_token: str | None = Field(default=None, min_length=8, max_length=200)
    client_id: str | None = Field(default=None, min_length=1, max_length=100)
    client_secret: str | None = Field(default=None, min_length=8, max_length=200)
    bill_hash_key: str | None = Field(default=None, min_length=8, max_length=200)
    referrer_key: str | None = Field(default=None, min_length=4, max_length=200)
    sdk_secret: str | None = Field(default=None, min_length=8, max_length=200)
    webhook_url: str | None = Field(default=None, pattern=r"^https?://", max_length=2000)
    webhook_secret: str | None = Field(default=None, max_length=200)
    proxy_url: str | None = Field(default=None, pattern=r"^https?://", max_length=2000)
    biller_code: str | None = Field(default=None, pattern=r"^[0-9A-Za-z]{1,20}$")
    bill_source: Literal["proxy", "hosted", "supplier"] = "hosted"
    biller_api_url: str | None = Field(default=None, pattern=r"^https?://", max_length=2000)
    biller_api_token: str | None = Field(default=None, min_length=8, max_length=200)
    supplier_token: str | None = Field(default=None, min_length=8, max_length=200)
    wallet_enabled: bool = True
    logo_url: str | None = Field(default=None, pattern=r"^https://", max_length=2000)
    checkout_fee_khr: Any = 0  # fixed checkout fee per currency, in the major unit
    checkout_fee_usd: Any = 0
    checkout_fee_bps: int = Field(default=0, ge=0, le=10000)
    khqr_account_id: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$", max_length=32)
    khqr_merchant_id: str | None = Field(default=None, max_length=32)
    khqr_acquiring_bank: str | None = Field(default=None, max_length=32)
    khqr_city: str | None = Field(default=None, max_length=15)
    sub_billers: list[SubBillerFx] = Field(default_factory=list)
    customers: list[CustomerFx] = Field(default_factory=list)

    @field_validator("checkout_fee_khr", "checkout_fee_usd")
    @classmethod
    def _fee(cls, v: Any, info: ValidationInfo) -> Any:
        currency = "KHR" if info.field_name == "checkout_fee_khr" else "USD"
        try:
            to_minor(Decimal(repr(v)) if isinstance(v, float) else v, currency)
        except AmountError as exc:
            raise ValueError(f"invalid {currency} amount: {exc}") from None
        return Decimal(repr(v)) if isinstance(v, float) else v

    @field_validator("webhook_secret")
    @classmethod
    def _secret(cls, v: str | None) -> str | None:
        if v is not None and not is_valid_secret(v):
            raise ValueError("a webhook secret is whsec_ followed by the base64 of at least 16 bytes")
        return v

    @model_validator(mode="after")
    def _unique_codes(self) -> MerchantFx:
        for label, codes_ in (
            ("sub_billers", [s.code for s in self.sub_billers]),
            ("customers", [c.sync_code for c in self.customers]),
        ):
            dup = _repeated(codes_)
            if dup:
                raise ValueError(f"{label}: repeated code(s) {sorted(dup)}")
        return self


def _repeated(items: list[str]) -> set[str]:
    """The items that appear more than once (linear: a file holds tens of thousands of customers)."""
    return {item for item, n in Counter(items).items() if n > 1}


class BankAccountFx(_Strict):
    """A customer's account at a sandbox bank: what a direct debit draws on (the bank refuses what it cannot cover)."""

    number: str = Field(pattern=r"^[0-9A-Za-z-]{4,40}$")
    name: str = Field(min_length=1, max_length=200)
    currency: Literal["KHR", "USD"]
    balance: Any = 0
    status: Literal["open", "closed"] = "open"

    @field_validator("balance")
    @classmethod
    def _balance(cls, v: Any, info: ValidationInfo) -> Any:
        return Decimal(repr(v)) if isinstance(v, float) else v

    @model_validator(mode="after")
    def _amount(self) -> BankAccountFx:
        try:
            to_minor(self.balance, self.currency)
        except AmountError as exc:
            raise ValueError(f"balance: invalid {self.currency} amount: {exc}") from None
        return self


class BankFx(_Strict):
    code: str = Field(min_length=1, max_length=30)
    name: str = Field(min_length=1, max_length=200)
    name_kh: str | None = Field(default=None, max_length=200)
    logo: str | None = Field(default=None, max_length=2000)
    api_token: str | None = Field(default=None, min_length=8, max_length=200)
    online: bool = True  # false: linking with this bank answers 001 (connection problem)
    accounts: list[BankAccountFx] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_accounts(self) -> BankFx:
        dup = _repeated([a.number for a in self.accounts])
        if dup:
            raise ValueError(f"accounts: repeated number(s) {sorted(dup)}")
        return self


class FixtureFile(_Strict):
    merchants: list[MerchantFx] = Field(default_factory=list)
    banks: list[BankFx] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> FixtureFile:
        for label, keys in (
            ("merchants", [m.client_id or m.name for m in self.merchants]),
            ("merchant_token", [m.merchant_token for m in self.merchants if m.merchant_token]),
            ("biller_code", [m.biller_code for m in self.merchants if m.biller_code]),
            ("banks", [b.code for b in self.banks]),
        ):
            dup = _repeated(keys)
            if dup:
                raise ValueError(f"{label}: repeated {sorted(dup)}")
        return self


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(file)"


def parse(raw: str, name: str = "") -> FixtureFile:
    try:
        data = yaml.safe_load(raw) if name.endswith((".yaml", ".yml")) else wirejson.loads(raw)
    except (yaml.YAMLError, wirejson.InvalidJSON) as exc:
        raise FixtureError(
            f"{name or 'fixture'}: not valid {'YAML' if name.endswith(('.yaml', '.yml')) else 'JSON'}: {exc}"
        ) from None
    try:
        return FixtureFile.model_validate(data)
    except ValidationError as exc:
        lines = [f"{_path(e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise FixtureError("invalid fixture file:\n  " + "\n  ".join(lines)) from None


def load_file(path: Path) -> FixtureFile:
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FixtureError(f"cannot read {path}: {exc}") from None
    return parse(raw, path.name)


@dataclass
class SeedReport:
    merchants: list[dict[str, str]] = field(default_factory=list)  # name, credentials given or generated now
    banks: list[dict[str, str]] = field(default_factory=list)
    customers: int = 0
    entries: int = 0


Progress = Callable[[int, int], None]  # (customers done, customers in the file)
BULK_BATCH = 5000  # new customers written per round of multi-row statements


async def seed(session: AsyncSession, fx: FixtureFile, progress: Progress | None = None) -> SeedReport:
    """New customers take the bulk path (a few multi-row statements per batch, their funding entries written
    together); customers already in the database are updated one by one, as before."""
    report = SeedReport()
    total = sum(len(m.customers) for m in fx.merchants)
    done = 0
    for b in fx.banks:
        await _seed_bank(session, b, report)
    for m in fx.merchants:
        merchant = await _seed_merchant(session, m, report)
        for sb in m.sub_billers:
            await _seed_sub_biller(session, merchant, sb)
        live = await _live_sync_codes(session, merchant.id, [c.sync_code for c in m.customers])
        fresh = [c for c in m.customers if c.sync_code not in live]
        for start in range(0, len(fresh), BULK_BATCH):
            batch = fresh[start : start + BULK_BATCH]
            await _seed_new_customers(session, merchant, batch, report)
            done += len(batch)
            if progress:
                progress(done, total)
        known = [c for c in m.customers if c.sync_code in live]
        for start in range(0, len(known), BULK_BATCH):
            batch = known[start : start + BULK_BATCH]
            await _seed_known_customers(session, merchant, batch, report)
            done += len(batch)
            if progress:
                progress(done, total)
    await session.flush()
    return report


async def _live_sync_codes(session: AsyncSession, merchant_id: str, codes: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(codes), ledger.BULK_CHUNK):
        q = select(Customer.sync_code).where(
            Customer.merchant_id == merchant_id,
            Customer.deleted_at.is_(None),
            Customer.sync_code.in_(codes[start : start + ledger.BULK_CHUNK]),
        )
        found.update((await session.execute(q)).scalars())
    return found


async def _seed_new_customers(
    session: AsyncSession, merchant: Merchant, batch: list[CustomerFx], report: SeedReport
) -> None:
    inputs = [
        CustomerInput(
            c.sync_code,
            c.name,
            {"name_kh": c.name_kh, "phone": c.phone, "email": c.email},
            [NewWallet(w.name, w.currency) for w in c.wallets],
        )
        for c in batch
    ]
    made = await customer_service.create_many(session, merchant, inputs)
    funding: dict[str, Account] = {}
    entries = []
    for c, (_, opened) in zip(batch, made, strict=True):
        for fx_wallet, (_, account) in zip(c.wallets, opened, strict=True):
            if not fx_wallet.balance_minor:
                continue
            entries.append(
                await _funding_entry(session, merchant, funding, c.sync_code, account, fx_wallet.balance_minor)
            )
    await ledger.post_many(session, entries)
    report.customers += len(batch)
    report.entries += len(entries)


async def _seed_bank(session: AsyncSession, b: BankFx, report: SeedReport) -> None:
    bank = await session.get(Bank, b.code)
    token = b.api_token
    if bank is None:
        token = token or secrets.token_urlsafe(24)
        bank = Bank(code=b.code, created_at=clock.now(), api_token_digest="")
        session.add(bank)
    bank.name, bank.name_kh, bank.logo, bank.online = b.name, b.name_kh, b.logo, b.online
    if token:
        bank.api_token_digest = crypto.digest(token)
        bank.sandbox_token = token  # its sandbox payment page calls the bank API as this bank
    report.banks.append({"code": b.code, "api_token": token or "(unchanged)"})
    await session.flush()
    for a in b.accounts:  # upserted by number: the file's balance and status win
        acct = await session.scalar(
            select(SandboxAccount).where(SandboxAccount.bank_code == b.code, SandboxAccount.number == a.number)
        )
        if acct is None:
            acct = SandboxAccount(id=str(uuid.uuid4()), bank_code=b.code, number=a.number, created_at=clock.now())
            session.add(acct)
        acct.name, acct.currency, acct.status = a.name, a.currency, a.status
        acct.balance = to_minor(a.balance, a.currency)


_CRED_KEYS = (
    "merchant_token",
    "client_id",
    "client_secret",
    "bill_hash_key",
    "referrer_key",
    "sdk_secret",
    "webhook_secret",
)


async def _seed_merchant(session: AsyncSession, m: MerchantFx, report: SeedReport) -> Merchant:
    if m.client_id:
        merchant = await merchant_service.merchant_by_client_id(session, m.client_id)
    else:
        merchant = (await session.execute(select(Merchant).where(Merchant.name == m.name))).scalars().first()
    given = {k: getattr(m, k) for k in _CRED_KEYS}
    shown: dict[str, str] = {"name": m.name}
    if merchant is None:
        merchant, creds = await merchant_service.create_merchant(
            session, m.name, merchant_service.Credentials.generate(**given)
        )
        shown.update({k: getattr(creds, k) for k in _CRED_KEYS})
    else:
        merchant.name = m.name
        if given["merchant_token"]:
            merchant.merchant_token_digest = crypto.digest(given["merchant_token"])
        if given["client_secret"] and not await merchant_service.verify_secret(
            given["client_secret"], merchant.client_secret_hash
        ):
            merchant.client_secret_hash = await merchant_service.hash_secret(given["client_secret"])
        if given["referrer_key"]:
            merchant.referrer_key_digest = crypto.digest(given["referrer_key"])
        for key in ("bill_hash_key", "sdk_secret", "webhook_secret"):
            if given[key]:
                setattr(merchant, key, given[key])
        shown.update({k: v or "(unchanged)" for k, v in given.items()})
        shown["client_id"] = merchant.client_id
    merchant.webhook_url, merchant.proxy_url, merchant.wallet_enabled = m.webhook_url, m.proxy_url, m.wallet_enabled
    merchant.logo_url = m.logo_url
    if m.biller_code:
        taken = (
            await session.execute(
                select(Merchant.name).where(Merchant.biller_code == m.biller_code, Merchant.id != merchant.id)
            )
        ).scalar_one_or_none()
        if taken is not None:
            raise FixtureError(f"biller_code {m.biller_code} is already the code of merchant {taken!r}")
    merchant.biller_code, merchant.bill_source = m.biller_code, m.bill_source
    merchant.biller_api_url = m.biller_api_url
    # The token Tonle sends to the biller's endpoints: the biller's own, or its merchant token (Bill24's default).
    fresh = shown.get("merchant_token") if shown.get("merchant_token") != "(unchanged)" else None
    merchant.biller_api_token = m.biller_api_token or fresh or merchant.biller_api_token
    if m.supplier_token:  # else the Supplier API takes the merchant token (sandbox-fixtures.md)
        taken = (
            await session.execute(
                select(Merchant.name).where(
                    Merchant.supplier_token_digest == crypto.digest(m.supplier_token), Merchant.id != merchant.id
                )
            )
        ).scalar_one_or_none()
        if taken is not None:
            raise FixtureError(f"supplier_token is already the token of merchant {taken!r}")
        merchant.supplier_token_digest = crypto.digest(m.supplier_token)
        shown["supplier_token"] = m.supplier_token
    merchant.checkout_fee_fixed_khr = to_minor(m.checkout_fee_khr, "KHR")
    merchant.checkout_fee_fixed_usd = to_minor(m.checkout_fee_usd, "USD")
    merchant.checkout_fee_bps = m.checkout_fee_bps
    merchant.khqr_account_id, merchant.khqr_merchant_id = m.khqr_account_id, m.khqr_merchant_id
    merchant.khqr_acquiring_bank, merchant.khqr_city = m.khqr_acquiring_bank, m.khqr_city
    await session.flush()
    report.merchants.append(shown)
    return merchant


async def _seed_sub_biller(session: AsyncSession, merchant: Merchant, sb: SubBillerFx) -> None:
    q = select(SubBiller).where(SubBiller.merchant_id == merchant.id, SubBiller.code == sb.code)
    row = (await session.execute(q)).scalar_one_or_none()
    if row is None:
        row = SubBiller(merchant_id=merchant.id, code=sb.code, number=new_number(), created_at=clock.now())
        session.add(row)
    row.name, row.name_kh, row.address = sb.name, sb.name_kh, sb.address


def _chunks(items: list[Any]) -> Any:
    for start in range(0, len(items), ledger.BULK_CHUNK):
        yield items[start : start + ledger.BULK_CHUNK]


async def _funding_entry(
    session: AsyncSession, merchant: Merchant, cache: dict[str, Account], sync_code: str, wallet: Account, amount: int
) -> ledger.NewEntry:
    """The entry that moves ``amount`` from the merchant's sandbox funding account (opened once per currency, kept in
    ``cache``) to a seeded wallet: a negative amount takes money back."""
    currency = wallet.currency
    if currency not in cache:
        cache[currency] = await ledger.open_account(
            session,
            merchant_id=merchant.id,
            kind=ledger.AccountKind.sandbox_funding,
            currency=currency,
            allow_negative=True,
        )
    return ledger.NewEntry(
        merchant.id,
        "sandbox_funding",
        [ledger.Leg(cache[currency], -amount), ledger.Leg(wallet, amount)],
        memo=f"seed {sync_code} {currency}",
    )


async def _seed_known_customers(
    session: AsyncSession, merchant: Merchant, batch: list[CustomerFx], report: SeedReport
) -> None:
    """Customers already in the database: their profile and wallet names and order as the file says, missing
    wallets opened (with the same rules as the API), and each balance brought to the file's by one entry from the
    sandbox funding account, all entries written together. Reads are a few multi-row queries per batch."""
    customers: dict[str, Customer] = {}
    for codes in _chunks([c.sync_code for c in batch]):
        q = select(Customer).where(
            Customer.merchant_id == merchant.id, Customer.deleted_at.is_(None), Customer.sync_code.in_(codes)
        )
        customers.update({row.sync_code: row for row in (await session.execute(q)).scalars()})
    wallets: dict[str, list[tuple[Wallet, Account]]] = {cid.id: [] for cid in customers.values()}
    for ids in _chunks(list(wallets)):
        q = (
            select(Wallet, Account)
            .join(Account, Account.id == Wallet.account_id)
            .where(Wallet.merchant_id == merchant.id, Wallet.customer_id.in_(ids), Wallet.deleted_at.is_(None))
            .order_by(Wallet.customer_id, Wallet.position)
        )
        for wallet, account in (await session.execute(q)).all():
            wallets[wallet.customer_id].append((wallet, account))
    funding: dict[str, Account] = {}
    entries = []
    for c in batch:
        customer = customers[c.sync_code]
        customer.name = c.name
        customer.name_kh, customer.phone, customer.email = c.name_kh, c.phone, c.email
        have = {w.currency for w, _ in wallets[customer.id]}
        missing = [NewWallet(w.name, w.currency) for w in c.wallets if w.currency not in have]
        if missing:  # rare: the file gained a wallet; the API's own path opens it
            await customer_service.update_profile(session, merchant, CustomerInput(c.sync_code, wallets=missing))
            rows = await customer_repo.wallets_with_balances(session, merchant.id, customer.id)
            wallets[customer.id] = [(w, await session.get(Account, w.account_id)) for w, _ in rows]  # type: ignore[misc]
        by_currency = {w.currency: (w, a) for w, a in wallets[customer.id]}
        order = [w.currency for w in c.wallets]
        ordered = [by_currency[cur][0] for cur in order] + [
            w for cur, (w, _) in by_currency.items() if cur not in order
        ]
        for position, wallet in enumerate(ordered):
            wallet.position = position
        for w in c.wallets:
            wallet, account = by_currency[w.currency]
            wallet.name = w.name
            diff = w.balance_minor - account.balance
            if diff:
                entries.append(await _funding_entry(session, merchant, funding, c.sync_code, account, diff))
    await session.flush()
    await ledger.post_many(session, entries)
    report.customers += len(batch)
    report.entries += len(entries)
