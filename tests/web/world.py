"""The web tests' world: the real app under uvicorn, the scheduler and real delivery on, one real agent.

One server serves the whole test package (starting it, seeding accounts and starting an agent is
the slow part). Commune A has two clusters: "Cụm loa A" with a real ``broadcaster agent``
process (null player) and "Cụm loa chợ", whose agent never answers (it shows offline). Commune B
is the other commune, for the scoping checks. Chromium is Debian's, driven by Playwright.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from broadcaster.app import create_app
from broadcaster.config import PROJECT_ROOT, Settings
from broadcaster.db import Database
from broadcaster.delivery.keys import load_or_create_signing_key, public_key_base64
from broadcaster.models import Cluster, User
from broadcaster.services import registry, users
from broadcaster.services.provisioning import issue_agent_credentials
from tests.agent.harness import AgentProcess, free_port
from tests.api.world import PASSWORD, Seed, make_settings, seed_database
from tests.fakes.live_server import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "web"
# Installed by scripts/setup --test (tests/web/package.json); injected into every page the tests check.
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
AXE_BLOCKING = ("serious", "critical")
WIDTHS = (1280, 360)
# Commune A as the screenshots show it (the seed's names are "Xã A", "Thôn A", "Cụm loa A").
COMMUNE_A = "Xã An Bình"
ZONE_A = "Thôn Đông"
CLUSTER_A = "Cụm loa nhà văn hóa"
MARKET_CLUSTER = "Cụm loa chợ"
FULL_NAMES = {"officer-a": "Nguyễn Thị Hoa", "approver-a": "Trần Văn Minh", "officer-b": "Lò Văn Páo"}
PAGE_TIMEOUT_MS = 15_000


@dataclass
class WebWorld:
    """The running server and what was seeded."""

    url: str
    settings: Settings
    seed: Seed
    db: Database
    market_cluster_id: int  # "Cụm loa chợ" of commune A, offline
    agent: AgentProcess

    def commune_id(self, key: str = "A") -> int:
        """A seeded commune's id."""
        return self.seed.communes[key].id

    def token(self, username: str) -> str:
        """The seeded bearer token of an account ("officer-a", "admin-a", …) for API calls."""
        if username == "tinh":
            return self.seed.tokens[("province", "")]
        role, commune = username.split("-")
        return self.seed.tokens[(role, commune.upper())]

    def api(self, method: str, path: str, username: str, **kwargs: Any) -> httpx.Response:
        """A call to the JSON API as a seeded account."""
        headers = {"Authorization": f"Bearer {self.token(username)}"}
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kwargs)


def web_settings(root: Path, port: int) -> Settings:
    """Settings for the served app: scheduler and delivery on, short delays, quick heartbeats."""
    return make_settings(
        root,
        run_scheduler=True,
        lead_time_s=2.0,
        prompt_delay_s=1.0,
        handoff="deliver",
        public_url=f"http://127.0.0.1:{port}",
        agent_heartbeat_interval_s=1.0,
        delivery_retry_initial_s=0.2,
        delivery_retry_max_s=1.0,
        login_max_failures=5,
        login_first_delay_s=60.0,  # past the free failures, a wait long enough to see in a test
    )


def _prepare_commune_a(db: Database, seed: Seed, agent_port: int) -> tuple[int, str]:
    """Name commune A and its people; point its cluster at the agent; add the offline market cluster.

    Returns the market cluster's id and cluster A's report secret.
    """
    with db.session() as session:
        province = session.get(User, seed.province.id)
        assert province is not None
        commune = seed.communes["A"]
        registry.update_commune(
            session,
            province,
            commune.id,
            registry.CommuneChanges(name=COMMUNE_A),
            schedules_dir=PROJECT_ROOT / "schedules",
        )
        registry.rename_zone(session, province, commune.zone_id, ZONE_A)
        registry.update_cluster(
            session,
            province,
            commune.cluster_id,
            registry.ClusterFields(name=CLUSTER_A, agent_url=f"http://127.0.0.1:{agent_port}", transport="http"),
        )
        # Port 9 (discard) has no agent: orders to it are retried in the background, it stays offline.
        market = registry.create_cluster(
            session,
            province,
            commune.id,
            registry.ClusterFields(name=MARKET_CLUSTER, agent_url="http://127.0.0.1:9", transport="http"),
        )
        for username, full_name in FULL_NAMES.items():
            role, key = username.split("-")
            account = seed.communes[key.upper()].users[role]
            users.update_user(session, province, account.id, users.UserChanges(full_name=full_name))
        cluster = session.get(Cluster, commune.cluster_id)
        assert cluster is not None
        secret = issue_agent_credentials(cluster)  # what `broadcaster speaker config` does
        session.commit()
        return market.id, secret


@contextmanager
def running_web_world(root: Path) -> Iterator[WebWorld]:
    """Seed, start the server and cluster A's agent; stop everything afterwards."""
    port = free_port()
    settings = web_settings(root, port)
    seed = seed_database(settings)
    db = Database(settings.effective_database_url)
    agent_port = free_port()
    market_id, secret = _prepare_commune_a(db, seed, agent_port)
    public_key = public_key_base64(load_or_create_signing_key(settings.data_dir).public_key())
    agent = AgentProcess(
        root / "agent-a",
        cluster_id=str(seed.communes["A"].cluster_id),
        server_url=settings.public_url,
        public_key=public_key,
        secret=secret,
        port=agent_port,
    )
    app = create_app(settings)
    try:
        with LiveServer(app, port=port, start_timeout_s=60, thread_name="uvicorn-web"):
            agent.start()
            yield WebWorld(
                url=settings.public_url,
                settings=settings,
                seed=seed,
                db=db,
                market_cluster_id=market_id,
                agent=agent,
            )
    finally:
        if agent.alive():
            agent.terminate()
        db.dispose()


@contextmanager
def chromium() -> Iterator[tuple[Playwright, Browser]]:
    """Debian's Chromium, headless, with its own network chatter switched off (the machine is offline)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield playwright, browser
        finally:
            browser.close()


def new_context(browser: Browser, world: WebWorld, width: int = 1280) -> BrowserContext:
    """A fresh browser profile (its own cookies) on the server, Vietnamese, with short timeouts."""
    context = browser.new_context(
        base_url=world.url,
        viewport={"width": width, "height": 800},
        locale="vi-VN",
        timezone_id="Asia/Ho_Chi_Minh",
        bypass_csp=True,  # only so that the tests can inject axe-core; the pages still send their CSP
    )
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    return context


def log_in(context: BrowserContext, username: str, password: str = PASSWORD) -> Page:
    """Log in through the login page; the page is left on the bulletin list."""
    page = context.new_page()
    page.goto("/dang-nhap")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/ban-tin")
    return page


def readme_shot(page: Page, name: str, last: str, width: int = 1024) -> None:
    """A screenshot for the README: ``width`` wide, from the top of the page to the bottom of ``last``."""
    original = page.viewport_size or {"width": 1280, "height": 800}
    page.set_viewport_size({"width": width, "height": 800})
    box = page.locator(last).bounding_box()
    assert box is not None, f"{last} is not on the page"
    height = min(int(box["y"] + box["height"] + 16), 1600)
    page.screenshot(
        path=str(ARTIFACTS / f"readme-{name}.png"),
        clip={"x": 0, "y": 0, "width": width, "height": height},
        full_page=True,
    )
    page.set_viewport_size(original)


def form_token(html: str) -> str:
    """The CSRF token of the first form of a page."""
    match = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', html)
    assert match is not None, "the page has no CSRF token"
    return match.group(1)


def http_login(web: WebWorld, username: str, password: str = PASSWORD) -> tuple[httpx.Client, httpx.Response]:
    """A cookie-keeping HTTP client that went through the login form; and the login's answer."""
    client = httpx.Client(base_url=web.url, timeout=30)
    token = form_token(client.get("/dang-nhap").text)
    answer = client.post("/dang-nhap", data={"username": username, "password": password, "csrf_token": token})
    return client, answer


def check_accessibility(page: Page, name: str, width: int) -> None:
    """Run axe-core on the page as it is: no serious or critical violation."""
    if not AXE.exists():
        raise AssertionError(f"{AXE} is missing: run scripts/setup --test (it installs axe-core from npm)")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async (blocking) => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.filter(v => blocking.includes(v.impact)).map(v => ({
                rule: v.id, impact: v.impact, help: v.help,
                where: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
        }""",
        list(AXE_BLOCKING),
    )
    assert not found, f"axe-core on {name} at {width} px: {found}"


def check_layout(page: Page, name: str) -> None:
    """Screenshot the page at 1280 and 360 px, and check it with axe-core at both; at 360 nothing may stick out."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_load_state("load")
    original = page.viewport_size or {"width": 1280, "height": 800}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        overflow = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert overflow[0] <= overflow[1], f"{name} at {width} px is {overflow[0]} px wide"
        check_accessibility(page, name, width)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size(original)
