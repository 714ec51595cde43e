"""What ``tools/build_catalog.py`` needs to know about each open source: how its categories map
to the catalog's vocabulary, which of its rows are not SaaS products, and how its rows are cited.

Kept apart from the build so the mapping tables can be reviewed on their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

RAW_DIR = Path(__file__).parent / "data" / "catalog"

TWOFACTORAUTH_CATEGORIES: dict[str, str | None] = {
    # 2factorauth/twofactorauth categories (its README lists them). None: consumer services
    # (banks, universities, games, utilities...) that are not workplace SaaS: left out.
    "developer": "developer_tools",
    "hosting": "cloud_infrastructure",
    "cloud": "cloud_infrastructure",
    "domains": "cloud_infrastructure",
    "finance": "finance",
    "payments": "payments",
    "marketing": "marketing",
    "social": "social_media",
    "communication": "communication",
    "email": "communication",
    "education": "learning",
    "security": "security",
    "vpn": "security",
    "identity": "identity",
    "backup": "file_storage",
    "travel": "travel",
    "creativity": "design",
    "task": "project_management",
    "remote": "it_management",
    "legal": "legal",
    "retail": "ecommerce",
    "other": "other",
    "banking": None,
    "cryptocurrencies": None,
    "investing": None,
    "universities": None,
    "government": None,
    "utilities": None,
    "gaming": None,
    "betting": None,
    "entertainment": None,
    "health": None,
    "food": None,
    "transport": None,
    "insurance": None,
    "postal": None,
    "tickets": None,
    "crowdfunding": None,
    "iot": None,
}

WAPPALYZER_CATEGORIES: dict[str, str] = {
    # Wappalyzer category names (src/categories.json); unlisted ones map to "other".
    "Marketing automation": "marketing_automation",
    "Email": "email_marketing",
    "Analytics": "web_analytics",
    "Tag managers": "web_analytics",
    "Advertising": "advertising",
    "Retargeting": "advertising",
    "Personalisation": "conversion_optimization",
    "A/B Testing": "conversion_optimization",
    "Cart abandonment": "conversion_optimization",
    "CRM": "crm",
    "Reviews": "reviews",
    "Customer data platform": "customer_data_platform",
    "Segmentation": "customer_data_platform",
    "Affiliate programs": "affiliate",
    "Referral marketing": "affiliate",
    "Loyalty & rewards": "marketing",
    "Surveys": "surveys_forms",
    "Form builders": "surveys_forms",
    "Content curation": "content_marketing",
    "Blogs": "content_marketing",
    "SEO": "seo",
    "Page builders": "landing_pages",
    "CMS": "website_builder",
    "Digital asset management": "digital_asset_management",
    "Livestreaming": "video",
    "Video players": "video",
    "Ticket booking": "events",
    "Photo galleries": "stock_media",
    "Live chat": "customer_support",
    "User onboarding": "customer_support",
    "Ecommerce": "ecommerce",
    "Shopify apps": "ecommerce",
    "Cross border ecommerce": "ecommerce",
    "Returns": "ecommerce",
    "Shipping carriers": "ecommerce",
    "Fulfilment": "ecommerce",
    "Reservations & delivery": "ecommerce",
    "Payment processors": "payments",
    "Buy now pay later": "payments",
    "Fundraising & donations": "payments",
    "Appointment scheduling": "scheduling",
    "Issue trackers": "developer_tools",
    "Development": "developer_tools",
    "Documentation": "developer_tools",
    "Feature management": "developer_tools",
    "Maps": "developer_tools",
    "Geolocation": "developer_tools",
    "Database managers": "developer_tools",
    "Security": "security",
    "Authentication": "identity",
    "Cookie compliance": "legal",
    "RUM": "monitoring",
    "Performance": "monitoring",
    "CDN": "cloud_infrastructure",
    "PaaS": "cloud_infrastructure",
    "IaaS": "cloud_infrastructure",
    "Hosting": "cloud_infrastructure",
    "Recruitment & staffing": "recruiting",
    "LMS": "learning",
    "Translation": "productivity",
    "Editors": "productivity",
    "Webmail": "communication",
    "Message boards": "communication",
    "Network storage": "file_storage",
}

AI_LIST_SECTIONS: dict[str, str] = {
    # Sections of the two generative-AI lists (README.md headings). Unlisted sections (models,
    # libraries, papers, learning resources, other lists) are not products: left out.
    "Chatbots": "ai_assistant",
    "Custom interfaces": "ai_assistant",
    "Custom assistants": "ai_assistant",
    "Search engines": "ai_assistant",
    "Productivity": "ai_assistant",
    "Meeting assistants": "ai_assistant",
    "Academia": "ai_assistant",
    "Autonomous agents": "ai_assistant",
    "ChatGPT extensions": "ai_assistant",
    "Customer Support": "ai_assistant",
    "Phone Calls": "ai_assistant",
    "Other": "ai_assistant",
    "Writing assistants": "ai_writing",
    "Other text generators": "ai_writing",
    "Marketing AI Tools": "ai_writing",
    "Coding Assistants": "ai_coding",
    "Code": "ai_coding",
    "Developer tools": "ai_coding",
    "Playgrounds": "ai_coding",
    "Services": "ai_image",
    "Graphic design": "ai_image",
    "Video": "ai_video",
    "Avatars": "ai_video",
    "Animation": "ai_video",
    "Text-to-speech": "ai_audio",
    "Speech-to-text": "ai_audio",
    "Speech": "ai_audio",
    "Music": "ai_audio",
    "AI Music Generators": "ai_audio",
    "AI Voice Cloning": "ai_audio",
}

PLATFORM_HOSTS: tuple[str, ...] = (
    # A link here points at a repository, a paper, a store listing or a page on a shared host,
    # not at a product's own domain: such rows are left out rather than given that domain.
    "github.com",
    "gitlab.com",
    "github.io",
    "huggingface.co",
    "hf.co",
    "arxiv.org",
    "paperswithcode.com",
    "openreview.net",
    "producthunt.com",
    "medium.com",
    "substack.com",
    "youtube.com",
    "youtu.be",
    "twitter.com",
    "x.com",
    "reddit.com",
    "linkedin.com",
    "discord.gg",
    "discord.com",
    "notion.site",
    "vercel.app",
    "netlify.app",
    "herokuapp.com",
    "streamlit.app",
    "replit.app",
    "web.app",
    "firebaseapp.com",
    "pages.dev",
    "wordpress.com",
    "blogspot.com",
    "apps.apple.com",
    "play.google.com",
    "chromewebstore.google.com",
    "chrome.google.com",
    "addons.mozilla.org",
    "marketplace.visualstudio.com",
    "apps.shopify.com",
    "wordpress.org",
)

IDP_DOMAINS: tuple[str, ...] = (
    # The identity providers' own services are first-party (scanner/data/*first_party*); a
    # catalog entry for them would turn Google's or Microsoft's own apps into third-party ones.
    "google.com",
    "microsoft.com",
    "microsoftonline.com",
    "live.com",
    "office.com",
    "office365.com",
    "okta.com",
)


@dataclass(frozen=True)
class Snapshot:
    """A source snapshot's ``SOURCE`` record."""

    folder: str
    repository: str
    commit: str
    licence: str

    def cite(self, path: str, detail: str = "") -> str:
        """``2factorauth/twofactorauth@f3ac2ab entries/h/hubspot.com.json (MIT)``."""
        where = f"{path} {detail}".strip()
        return f"{self.repository}@{self.commit[:7]} {where} ({self.licence})"


def snapshot(folder: str, raw_dir: Path = RAW_DIR) -> Snapshot:
    fields: dict[str, str] = {}
    for line in (raw_dir / folder / "SOURCE").read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        fields[key.strip()] = value.strip()
    licence = fields["licence"].split(" ")[0]
    return Snapshot(folder, fields["repository"], fields["commit"], licence)
