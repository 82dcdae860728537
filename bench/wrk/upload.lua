-- bench/run: POST a 1 MiB body per request (wrk adds Content-Length for wrk.body).
wrk.method = "POST"
wrk.body = string.rep("x", 1024 * 1024)
wrk.headers["Content-Type"] = "application/octet-stream"
