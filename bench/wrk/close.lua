-- bench/run: a new connection per request. wrk reconnects after every response that is
-- not keep-alive, so each request pays for connect + accept + close on the measured path.
wrk.headers["Connection"] = "close"
