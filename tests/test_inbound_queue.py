"""The durable inbound queue: bounds, fair claims, and status URLs that tell the truth."""

from __future__ import annotations

import threading
import xmlrpc.client
from typing import Any

import pytest
import requests

from example_blog.extensions import db as blog_db
from flask_linkback.inbound.pingback import QUEUED_ANSWER, SUCCESS_ANSWER
from flask_linkback.inbound.queue import claim, claimer_name, sender_key
from flask_linkback.models import Status

JSON = {"Accept": "application/json"}


def ping_from(blog: Any, ip: str, source: str, target: str) -> Any:
    """pingback.ping through the app, as if sent from ``ip``; the answer or the Fault."""
    client = blog.app.test_client()
    response = client.post("/xmlrpc", data=xmlrpc.client.dumps((source, target), "pingback.ping"),
                           content_type="text/xml", environ_base={"REMOTE_ADDR": ip})
    try:
        return xmlrpc.client.loads(response.data)[0][0]
    except xmlrpc.client.Fault as fault:
        return fault


def jobs(blog: Any) -> list[Any]:
    with blog.app.app_context():
        Job = blog.app.extensions["linkback"].models.InboundJob
        rows = Job.query.order_by(Job.id).all()
        for row in rows:
            blog_db.session.expunge(row)
        return rows


@pytest.fixture
def queue_only(blog):
    """This process only queues (as a web process beside a worker): jobs stay visible."""
    blog.app.config["LINKBACK_INBOUND_WORKERS"] = 0
    blog.app.config["LINKBACK_RATELIMIT_ENABLED"] = False
    return blog


def test_re_sent_webmentions_that_join_a_waiting_job_count_against_the_bound(
    queue_only, source_site
):
    blog = queue_only
    blog.app.config["LINKBACK_INBOUND_QUEUE_MAX"] = 3
    blog.add_post("target")
    target = blog.post_url("target")
    source = source_site.linking_page("/reply", target)

    answers = [
        requests.post(
            blog.url + "/webmention", data={"source": source, "target": target}, timeout=10
        )
        for _ in range(4)
    ]
    other = requests.post(
        blog.url + "/webmention",
        timeout=10,
        data={"source": source_site.linking_page("/other", target), "target": target},
    )

    assert [a.status_code for a in answers] == [202, 202, 202, 503]
    assert other.status_code == 503 and other.headers["Retry-After"]
    [job] = jobs(blog)
    assert (job.repeats, job.status) == (2, "queued")  # one row, three requests


def test_one_sender_cannot_fill_the_queue_for_everyone(queue_only):
    """Per sender (an address, an IPv6 /64) and per source host, each has a share of the queue.

    Nothing here is fetched (this process only queues), so the sources may name
    any loopback address.
    """
    blog = queue_only
    blog.app.config["LINKBACK_INBOUND_QUEUE_PER_SENDER"] = 2
    blog.add_post("target")
    target = blog.post_url("target")

    flood = [
        ping_from(blog, "203.0.113.5", f"http://127.0.0.{20 + i}:9/f", target) for i in range(3)
    ]
    # Other addresses of one IPv6 /64 are one sender.
    v6 = [
        ping_from(blog, f"2001:db8:1:2::{i}", f"http://127.0.0.{30 + i}:9/v", target)
        for i in range(3)
    ]
    # Many senders naming one source host share that host's part.
    one_host = [
        ping_from(blog, f"198.51.100.{i}", f"http://127.0.0.40:9/h{i}", target) for i in range(3)
    ]
    other = ping_from(blog, "198.51.100.77", "http://127.0.0.50:9/x", target)

    for answers in (flood, v6, one_host):
        assert answers[:2] == [QUEUED_ANSWER, QUEUED_ANSWER]
        assert isinstance(answers[2], xmlrpc.client.Fault) and answers[2].faultCode == 50
    assert other == QUEUED_ANSWER
    assert len(jobs(blog)) == 7


def test_sender_keys_group_an_ipv6_64_and_keep_ipv4_addresses_apart():
    assert (
        sender_key("2001:db8:1:2::1") == sender_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    )
    assert sender_key("2001:db8:1:3::1") != sender_key("2001:db8:1:2::1")
    assert sender_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert sender_key("192.0.2.1") != sender_key("192.0.2.2")


def test_claims_go_round_robin_over_senders_within_the_concurrency_caps(queue_only, source_site):
    blog = queue_only
    blog.add_post("target")
    target = blog.post_url("target")
    for i in range(5):
        assert (
            ping_from(blog, "203.0.113.5", source_site.linking_page(f"/flood{i}", target), target)
            == QUEUED_ANSWER
        )
    assert ping_from(blog, "198.51.100.7", "http://[::1]:9/late", target) == QUEUED_ANSWER
    ids = [job.id for job in jobs(blog)]

    with blog.app.app_context():
        first = claim(2, claimer_name())
        rest = claim(10, claimer_name())

    # The late sender's one job is taken second, ahead of the flood's second job...
    assert first == [ids[0], ids[5]]
    # ...and the flood never has more than two jobs (its sender's cap) verifying at once.
    assert rest == [ids[1]]


def test_a_status_url_follows_the_linkbacks_current_state(blog, source_site, verified):
    blog.add_post("target")
    target = blog.post_url("target")
    answer = requests.post(
        blog.url + "/webmention",
        timeout=10,
        data={"source": source_site.linking_page("/reply", target), "target": target},
    )
    verified()
    location = answer.headers["Location"]

    def status() -> tuple[str, str | None]:
        data = requests.get(location, headers=JSON, timeout=10).json()
        return data["status"], data["reason"]

    before = status()
    extension = blog.app.extensions["linkback"].extension
    with blog.app.app_context():
        Linkback = blog.app.extensions["linkback"].models.IncomingLinkback
        row = Linkback.query.one()
        extension.set_status(row, Status.APPROVED)
        approved = status()
        extension.set_status(row, Status.SPAM)
        spam = status()
        extension.delete(row)
        deleted = status()

    assert before == ("pending", None)
    assert approved == ("accepted", None)
    assert spam == ("rejected", "held as spam")
    assert deleted[0] == "deleted"


def test_a_pingback_waits_for_its_verdict_only_within_the_budget(blog, source_site):
    blog.app.config["LINKBACK_PINGBACK_WAIT"] = 0.2
    blog.add_post("target")
    target = blog.post_url("target")
    release = threading.Event()

    def slow():
        release.wait(timeout=10)
        yield f'<a href="{target}">t</a>'.encode()

    answer = ping_from(blog, "203.0.113.9", source_site.page("/slow", slow), target)
    release.set()
    assert blog.app.extensions["linkback"].inbound.join(blog.app, timeout=15)

    assert answer == QUEUED_ANSWER  # answered before the source did
    assert [row.source_url for row in blog.linkbacks()] == [source_site.url + "/slow"]
    assert [job.verdict for job in jobs(blog)] == ["pending"]


def test_verified_jobs_are_deleted_once_they_are_old_enough(blog, source_site, verified):
    from datetime import timedelta

    from flask_linkback.inbound.queue import prune_done
    from flask_linkback.models import utcnow

    blog.add_post("target")
    target = blog.post_url("target")
    for n in range(3):
        assert isinstance(
            ping_from(blog, "203.0.113.9", source_site.linking_page(f"/r{n}", target), target), str
        )
    verified()
    with blog.app.app_context():
        Job = blog.app.extensions["linkback"].models.InboundJob
        old = Job.query.order_by(Job.id).first()
        old.finished_at = utcnow() - timedelta(days=2)
        blog_db.session.commit()
        deleted = prune_done()

    assert deleted == 1
    assert len(jobs(blog)) == 2
    assert len(blog.linkbacks()) == 3  # the linkbacks themselves stay


def test_a_newcomer_goes_ahead_of_a_flood_spread_over_many_hosts(queue_only):
    """Every flooding host always has a first job waiting: ties go to the lighter backlog."""
    blog = queue_only
    blog.add_post("target")
    target = blog.post_url("target")
    for n in range(3):
        for host in range(4):
            source = f"http://127.0.0.1:{9000 + host}/f{n}"
            assert ping_from(blog, f"203.0.113.{10 * host + n}", source, target) == QUEUED_ANSWER
    assert ping_from(blog, "198.51.100.7", "http://[::1]:9/late", target) == QUEUED_ANSWER
    late = jobs(blog)[-1].id

    with blog.app.app_context():
        first = claim(1, claimer_name())

    assert first == [late]


def test_once_a_senders_share_is_full_its_next_pings_cost_no_query(queue_only):
    blog = queue_only
    blog.app.config["LINKBACK_INBOUND_QUEUE_PER_SENDER"] = 1
    blog.add_post("target")
    target = blog.post_url("target")
    assert ping_from(blog, "203.0.113.5", "http://127.0.0.1:9001/a", target) == QUEUED_ANSWER
    assert ping_from(blog, "203.0.113.5", "http://127.0.0.1:9002/b", target).faultCode == 50
    with blog.counted_queries() as statements:
        refused = ping_from(blog, "203.0.113.5", "http://127.0.0.1:9003/c", target)

    assert refused.faultCode == 50
    assert not [sql for sql in statements if "linkback_" in sql]
    assert len(jobs(blog)) == 1


def test_a_flood_over_many_source_hosts_costs_one_query_per_process_once_their_shares_are_full(
    queue_only,
):
    """Refused for a full share: no target lookup, and every other full share noted at once."""
    blog = queue_only
    blog.app.config["LINKBACK_INBOUND_QUEUE_PER_SENDER"] = 1
    blog.add_post("target")
    target = blog.post_url("target")
    hosts = [f"127.0.0.{60 + i}:9" for i in range(5)]
    for i, host in enumerate(hosts):  # one waiting ping fills each host's share
        assert ping_from(blog, f"198.51.100.{i}", f"http://{host}/a", target) == QUEUED_ANSWER
    with blog.counted_queries() as first_statements:
        first = ping_from(blog, "203.0.113.1", f"http://{hosts[0]}/b", target)
    with blog.counted_queries() as statements:
        others = [
            ping_from(blog, f"203.0.113.{2 + i}", f"http://{host}/b", target)
            for i, host in enumerate(hosts[1:])
        ]

    assert first.faultCode == 50 and all(other.faultCode == 50 for other in others)
    # The first refusal read the queue only (its bound, then every full share): the post
    # was not even looked up.
    assert first_statements and all("linkback_inbound_job" in sql for sql in first_statements)
    assert len(first_statements) <= 2
    # The other hosts' shares were noted full with it: their pings cost no query.
    assert not [sql for sql in statements if "linkback_" in sql or "blog_post" in sql]
    assert len(jobs(blog)) == 5


def test_pings_naming_one_post_look_it_up_once_a_second(queue_only):
    blog = queue_only
    blog.add_post("target")
    target = blog.post_url("target")
    assert ping_from(blog, "198.51.100.1", "http://127.0.0.71:9/a", target) == QUEUED_ANSWER
    with blog.counted_queries() as statements:
        second = ping_from(blog, "198.51.100.2", "http://127.0.0.72:9/b", target)

    assert second == QUEUED_ANSWER
    assert not [sql for sql in statements if "blog_post" in sql]
    assert [job.post_id for job in jobs(blog)] == [str(blog_post_id(blog, "target"))] * 2


def test_a_post_opened_a_moment_ago_takes_pings_at_once(queue_only):
    """A post's resolution is reused only while it is open: never to refuse a ping."""
    blog = queue_only
    post = blog.add_post("target", pings_open=False)
    target = blog.post_url("target")
    refused = ping_from(blog, "198.51.100.1", "http://127.0.0.71:9/a", target)
    with blog.app.app_context():
        blog_db.session.get(type(post), post.id).pings_open = True
        blog_db.session.commit()

    accepted = ping_from(blog, "198.51.100.1", "http://127.0.0.71:9/a", target)

    assert refused.faultCode == 33
    assert accepted == QUEUED_ANSWER


def blog_post_id(blog: Any, slug: str) -> int:
    from example_blog.models import Post

    with blog.app.app_context():
        return Post.query.filter_by(slug=slug).one().id


def test_a_flood_held_back_by_the_caps_costs_no_claim_per_request(queue_only, source_site):
    """Pings that cannot start (their source host is at its cap) are queued without running
    the fair claim, request after request; a newcomer still gets its verdict at once."""
    blog = queue_only
    blog.app.config["LINKBACK_SOURCE_HOST_CONCURRENCY"] = 1
    blog.add_post("target")
    target = blog.post_url("target")
    busy = "http://127.0.0.81:9"
    assert ping_from(blog, "198.51.100.1", f"{busy}/a", target) == QUEUED_ANSWER
    with blog.app.app_context():  # another machine's process is verifying it
        assert len(claim(1, "elsewhere:1:worker")) == 1
    blog.app.config["LINKBACK_INBOUND_WORKERS"] = 4  # this process has free slots

    with blog.counted_queries() as statements:
        flood = [ping_from(blog, f"203.0.113.{i}", f"{busy}/f{i}", target) for i in range(6)]
    claims = [sql for sql in statements
              if sql.startswith("UPDATE linkback_inbound_job") and "claimed_by" in sql]
    newcomer = ping_from(blog, "192.0.2.7", source_site.linking_page("/hello", target), target)

    assert flood == [QUEUED_ANSWER] * 6
    assert len(claims) <= 1  # was two per request: one for the ping itself, one for the rest
    assert newcomer == SUCCESS_ANSWER
    assert [job.status for job in jobs(blog)] == ["verifying"] + ["queued"] * 6 + ["done"]


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_the_fair_claim_reads_a_long_queue_once_whatever_the_statistics_say(queue_only):
    """A flood's queue is long while the table's statistics say it is short: the claim must
    stay linear in the queue's length (it once joined every queued row with every other)."""
    import sqlalchemy as sa

    from flask_linkback.inbound.queue import _statements
    from flask_linkback.models import utcnow

    blog = queue_only
    blog.add_post("target")
    waiting = 400
    with blog.app.app_context():
        Job = blog.app.extensions["linkback"].models.InboundJob
        now = utcnow()
        blog_db.session.execute(sa.insert(Job), [
            {"kind": "pingback", "source_url": f"http://127.0.0.1:{9000 + n % 10}/f{n}",
             "source_key": f"http://127.0.0.1:{9000 + n % 10}/f{n}",
             "source_host": f"127.0.0.1:{9000 + n % 10}", "target_url": "http://x/", "post_id": "1",
             "sender_ip": f"10.0.{n // 200}.{n % 200}", "sender_key": f"10.0.{n // 200}.{n % 200}",
             "status": "verifying" if n < 20 else "queued", "claimed_by": "elsewhere:1:w",
             "received_at": now, "fresh_at": now}
            for n in range(waiting)])
        blog_db.session.commit()
        claim_sql = _statements().claim.compile(dialect=blog_db.engine.dialect)
        params = {**claim_sql.params, "claimer": "me", "now": now, "limit": 4, "sender_cap": 2,
                  "host_cap": 2}
        connection = blog_db.session.connection()
        [plan] = connection.exec_driver_sql(
            f"EXPLAIN (ANALYZE, FORMAT JSON) {claim_sql}", params).scalar()
        blog_db.session.rollback()

    def rows_read(node: dict[str, Any]) -> int:
        own = node["Actual Rows"] * node["Actual Loops"]
        return own + sum(rows_read(child) for child in node.get("Plans", []))

    assert rows_read(plan["Plan"]) < 20 * waiting  # was 425x: every row against every other


def test_a_queued_ping_costs_its_request_four_statements_and_no_stored_row(queue_only):
    """What every accepted ping of a flood costs: its bounds, is it known, is it waiting,
    the insert. The stored linkback (if any) is the worker's to load, not the request's."""
    blog = queue_only
    blog.add_post("target")
    target = blog.post_url("target")
    assert ping_from(blog, "198.51.100.1", "http://127.0.0.91:9/a", target) == QUEUED_ANSWER
    with blog.counted_queries() as pingback_statements:
        assert ping_from(blog, "198.51.100.2", "http://127.0.0.92:9/b", target) == QUEUED_ANSWER
    with blog.counted_queries() as webmention_statements:
        answer = blog.app.test_client().post(
            "/webmention", data={"source": "http://127.0.0.93:9/c", "target": target},
            environ_base={"REMOTE_ADDR": "198.51.100.3"})

    assert answer.status_code == 202
    reads = [sql for sql in pingback_statements if sql.lstrip().upper().startswith(
        ("SELECT", "INSERT", "UPDATE", "DELETE"))]
    assert len(reads) <= 4, reads
    # One id looked up, not the whole row (title, excerpt, content...).
    [known] = [sql for sql in reads if "FROM linkback_incoming" in sql]
    assert "linkback_incoming.content" not in known
    # A webmention re-sent for a known pair is an update: nothing to look up first.
    assert not [sql for sql in webmention_statements if "FROM linkback_incoming" in sql]


def test_a_web_process_beside_a_worker_verifies_only_the_verdicts_its_requests_wait_for(
    blog, source_site
):
    """With the scheduler off (the documented shape beside `flask linkback worker`), a web
    process leaves queued pings to the worker: a flood's verifications cost the processes
    serving pages nothing. A pingback still gets its verdict within the wait budget."""
    blog.app.config["LINKBACK_SCHEDULER"] = False
    blog.add_post("target")
    target = blog.post_url("target")

    mention = blog.app.test_client().post(
        "/webmention", data={"source": source_site.linking_page("/m", target), "target": target},
        environ_base={"REMOTE_ADDR": "198.51.100.1"})
    pingback = ping_from(blog, "198.51.100.2", source_site.linking_page("/p", target), target)

    assert mention.status_code == 202
    assert pingback == SUCCESS_ANSWER
    assert [(job.kind, job.status) for job in jobs(blog)] == [
        ("webmention", "queued"), ("pingback", "done")]
    assert blog.app.extensions["linkback"].inbound.join(blog.app, timeout=15)  # the poll's work
    assert [job.status for job in jobs(blog)] == ["done", "done"]


def test_status_counts_the_inbound_queue_and_warns_when_nothing_verifies_it(queue_only):
    """Web processes beside a worker leave queued pings to it: an operator who forgot the
    worker learns it from `flask linkback status`, not from a sender."""
    from datetime import timedelta

    from flask_linkback.models import utcnow

    blog = queue_only
    blog.add_post("target")
    target = blog.post_url("target")
    assert ping_from(blog, "198.51.100.1", "http://127.0.0.95:9/a", target) == QUEUED_ANSWER
    runner = blog.app.test_cli_runner()
    fresh = runner.invoke(args=["linkback", "status"])
    with blog.app.app_context():
        Job = blog.app.extensions["linkback"].models.InboundJob
        Job.query.one().received_at = utcnow() - timedelta(minutes=5)
        blog_db.session.commit()
    stale = runner.invoke(args=["linkback", "status"])

    assert fresh.exit_code == stale.exit_code == 0
    assert "inbound queued\t1" in fresh.output and "inbound verifying\t0" in fresh.output
    assert "warning" not in fresh.output
    assert "has waited 30" in stale.stderr and "s to be verified" in stale.stderr  # 300 s
    assert "flask linkback worker" in stale.stderr
