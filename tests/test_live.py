"""The socket.io room Bill24's native SDKs join for live status (sdk-and-bank-api §1.3), with a real socket.io
client over websocket and over long-polling."""

import asyncio

import pytest
import socketio

from test_checkout import Shop


def _tran_no(shop, tran_id):
    with shop.server.client() as cl:
        r = cl.post(
            "/checkout/detail",
            json={"tran_id": tran_id},
            headers={"token": shop.m.creds.merchant_token, "X-Referrer-Key": shop.m.creds.referrer_key},
        )
    return r.json()["data"]["trans_info"]["tran_no"]


@pytest.mark.parametrize("transports", [["websocket"], ["polling"]])
def test_the_sdk_room_hears_the_payment(server, transports):
    shop = Shop(server)
    tran_id = shop.init(f"LIVE-{transports[0]}", amount=7000).json()["data"]["tran_id"]
    other = shop.init(f"LIVE-OTHER-{transports[0]}", amount=100).json()["data"]["tran_id"]
    room = f"KHQR-{_tran_no(shop, tran_id)}"

    async def go():
        heard: list[dict] = []
        got = asyncio.Event()
        sio = socketio.AsyncClient(reconnection=False)

        @sio.on("broadcast")
        async def on_broadcast(data):
            heard.append(data)
            got.set()

        await sio.connect(server.base_url, transports=transports, wait_timeout=10)
        try:
            assert await sio.call("joinRoom", room, timeout=10) == {"ok": True, "room": room}
            assert await sio.call("joinRoom", {"room": f"KHQR-{other}"}, timeout=10) == {
                "ok": True,
                "room": f"KHQR-{other}",
            }
            refused = await sio.call("joinRoom", "KHQR-NOPE", timeout=10)
            assert refused["ok"] is False
            assert (await sio.call("joinRoom", "lobby", timeout=10))["ok"] is False
            assert (await sio.call("joinRoom", "KHQR-\x00", timeout=10))["ok"] is False  # never a database error
            await asyncio.sleep(1.5)
            assert heard == []  # nothing is paid yet
            await asyncio.to_thread(shop.pay, tran_id, 7000)
            await asyncio.wait_for(got.wait(), 15)
            await asyncio.sleep(1.5)  # a second broadcast, or one for the unpaid room, would arrive now
        finally:
            await sio.disconnect()
        return heard

    heard = server.run(go())
    assert heard == [{"transactionId": tran_id, "status": "success"}]


def test_a_client_guessing_rooms_is_cut_off(server):
    async def go():
        sio = socketio.AsyncClient(reconnection=False)
        await sio.connect(server.base_url, transports=["websocket"], wait_timeout=10)
        answers = []
        try:
            for i in range(4):
                answers.append(await sio.call("joinRoom", f"KHQR-GUESS{i:07d}", timeout=10))
            try:
                await sio.call("joinRoom", "KHQR-GUESS9999999", timeout=5)
            except Exception:  # the server hangs up on the fifth refusal
                pass
            await asyncio.sleep(0.5)
            return answers, sio.connected
        finally:
            if sio.connected:
                await sio.disconnect()

    answers, still_connected = server.run(go())
    assert [a["ok"] for a in answers] == [False] * 4 and still_connected is False
