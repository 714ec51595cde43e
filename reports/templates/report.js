/* shadowit report: paged, sortable, filterable tables and per-app details, built from the
   JSON in #report-data with DOM APIs and textContent only (never innerHTML with data). */
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("report-data").textContent);
  var SEV_RANK = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };
  var STATUS_RANK = { banned: 0, unsanctioned: 1, tolerated: 2, sanctioned: 3, internal: 4, first_party: 5 };
  var RISK_COLOUR = { critical: "#7f1d1d", high: "#dc2626", medium: "#d97706", low: "#2563eb" };
  var PRINT_ROWS = 2000;

  var appsByKey = {};
  var findingsByApp = {};
  DATA.findings.forEach(function (f) {
    (findingsByApp[f.app_key] = findingsByApp[f.app_key] || []).push(f);
  });
  DATA.apps.forEach(function (a) {
    appsByKey[a.key] = a;
    var open = (findingsByApp[a.key] || []).filter(function (f) { return f.open; });
    a._open = open.length;
    a._worst = open.reduce(function (w, f) { return Math.min(w, rank(SEV_RANK, f.severity)); }, 9);
    a._search = [a.name, a.vendor, a.category, a.domain, a.sanction_status, a.owner]
      .concat(a.raw_names || [], a.users_shown || [], a.sources || []).join(" ").toLowerCase();
  });
  DATA.findings.forEach(function (f) {
    var app = appsByKey[f.app_key];
    f._marketing = Boolean(app && app.is_marketing);
    f._search = [f.app, f.id, f.kind, words("finding_kind", f.kind), f.status, f.remediation].concat(f.reasons || []).join(" ").toLowerCase();
  });

  function rank(table, value) { return value in table ? table[value] : 9; }

  /* el("td", {className: "n", text: "3"}, [children]) */
  function el(tag, props, children) {
    var node = document.createElement(tag);
    if (props) {
      Object.keys(props).forEach(function (k) {
        var v = props[k];
        if (v === null || v === undefined) { return; }
        if (k === "text") { node.textContent = String(v); }
        else if (k === "className") { node.className = v; }
        else { node.setAttribute(k, String(v)); }
      });
    }
    (children || []).forEach(function (c) {
      if (c === null || c === undefined || c === false) { return; }
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }
  function appLink(key, label) {
    return el("a", { href: "#app=" + encodeURIComponent(key), text: label, "data-app-key": key });
  }
  function sevPill(level) { return el("span", { className: "sev sev-" + level, text: level }); }
  function statusPill(status) { return el("span", { className: "st st-" + status, text: words("sanction", status) }); }
  function day(value) { return value ? String(value).replace("T", " ").slice(0, 16) : ""; }
  function label(value) { return value ? String(value).replace(/_/g, " ") : "uncategorised"; }
  /* Words, not codes: the one table of scanner/core/words.py, embedded with the data. */
  function words(topic, code) {
    if (code === null || code === undefined) { return ""; }
    var table = DATA.words[topic] || {};
    return Object.prototype.hasOwnProperty.call(table, code) ? table[code] : String(code).replace(/_/g, " ");
  }
  function plural(n, noun, many) { return n + " " + (n === 1 ? noun : (many || noun + "s")); }
  /* An app's level on one scale with its findings, then its score: the apps list's order. */
  var LEVEL_RANK = { low: 0, medium: 1, high: 2, critical: 3 };
  function riskOrder(a) { return rank(LEVEL_RANK, a.risk_level) * 1000 + a.risk_score; }
  function compare(x, y) {
    if (x === y) { return 0; }
    if (x === null || x === undefined || x === "") { return 1; }
    if (y === null || y === undefined || y === "") { return -1; }
    return x < y ? -1 : 1;
  }

  /* A paged, sortable table over an array of rows. */
  function PagedTable(opts) {
    this.o = opts;
    this.table = document.getElementById(opts.id);
    this.body = this.table.tBodies[0];
    this.pager = document.getElementById(opts.pager);
    this.count = document.getElementById(opts.count);
    this.sortKey = opts.sort[0];
    this.dir = opts.sort[1];
    this.page = 0;
    this.pageSize = opts.pageSize;
    this.open = {};
    this.rows = [];
    var self = this;
    /* Each cell names its column: on a phone a row is a stacked card (report.css). */
    this.headings = Array.prototype.map.call(this.table.tHead.rows[0].cells, function (th) { return th.textContent.trim(); });
    Array.prototype.forEach.call(this.table.tHead.querySelectorAll("th[data-key]"), function (th) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { self.sortBy(th.getAttribute("data-key")); });
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") { self.sortBy(th.getAttribute("data-key")); } });
    });
  }
  PagedTable.prototype.sortBy = function (key) {
    if (this.sortKey === key) { this.dir = -this.dir; }
    else { this.sortKey = key; this.dir = this.o.firstDir[key] || 1; }
    this.page = 0;
    this.refresh();
  };
  PagedTable.prototype.refresh = function () {
    var o = this.o, key = this.sortKey, dir = this.dir, sortValue = o.sortValue;
    this.rows = o.rows.filter(o.filter);
    this.rows.sort(function (a, b) {
      return compare(sortValue(a, key), sortValue(b, key)) * dir || compare(o.tiebreak(a), o.tiebreak(b));
    });
    Array.prototype.forEach.call(this.table.tHead.querySelectorAll("th[data-key]"), function (th) {
      if (th.getAttribute("data-key") === key) { th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending"); }
      else { th.removeAttribute("aria-sort"); }
    });
    var pages = Math.max(1, Math.ceil(this.rows.length / this.pageSize));
    this.page = Math.min(this.page, pages - 1);
    this.render();
    this.count.textContent = this.rows.length + " of " + o.rows.length + " " + o.noun;
    this.renderPager(pages);
  };
  PagedTable.prototype.render = function () {
    var start = this.page * this.pageSize, o = this.o, self = this;
    var slice = this.rows.slice(start, start + this.pageSize);
    var fragment = document.createDocumentFragment();
    slice.forEach(function (row) {
      var tr = el("tr", { className: "row", "data-key": o.key(row) }, o.cells(row));
      Array.prototype.forEach.call(tr.cells, function (td, i) { if (self.headings[i]) { td.setAttribute("data-label", self.headings[i]); } });
      fragment.appendChild(tr);
      if (o.detail && self.open[o.key(row)]) {
        tr.classList.add("open");
        fragment.appendChild(self.detailRow(row));
      }
    });
    if (!slice.length) {
      fragment.appendChild(el("tr", {}, [el("td", { colspan: o.columns, className: "empty", text: "Nothing matches these filters." })]));
    }
    this.body.replaceChildren(fragment);
  };
  PagedTable.prototype.detailRow = function (row) {
    return el("tr", { className: "detail", id: (this.o.detailId || "app-") + this.o.key(row) }, [
      el("td", { colspan: this.o.columns }, [this.o.detail(row)]),
    ]);
  };
  PagedTable.prototype.toggle = function (row, tr) {
    var key = this.o.key(row);
    if (this.open[key]) {
      delete this.open[key];
      tr.classList.remove("open");
      if (tr.nextSibling && tr.nextSibling.className === "detail") { tr.nextSibling.remove(); }
    } else {
      this.open[key] = true;
      tr.classList.add("open");
      tr.after(this.detailRow(row));
    }
  };
  PagedTable.prototype.show = function (row) {
    var index = this.rows.indexOf(row);
    if (index < 0) { return false; }
    this.page = Math.floor(index / this.pageSize);
    this.open[this.o.key(row)] = true;
    this.refresh();
    return true;
  };
  PagedTable.prototype.renderPager = function (pages) {
    var self = this;
    var start = this.rows.length ? this.page * this.pageSize + 1 : 0;
    var end = Math.min(this.rows.length, (this.page + 1) * this.pageSize);
    var prev = el("button", { type: "button", text: "\u2039 Prev" });
    var next = el("button", { type: "button", text: "Next \u203a" });
    prev.disabled = this.page === 0;
    next.disabled = this.page >= pages - 1;
    prev.addEventListener("click", function () { self.page -= 1; self.refresh(); });
    next.addEventListener("click", function () { self.page += 1; self.refresh(); });
    var size = el("select", { "aria-label": "Rows per page" });
    [25, 50, 100, 250, 1000].forEach(function (n) {
      var opt = el("option", { value: n, text: n + " per page" });
      if (n === self.pageSize) { opt.selected = true; }
      size.appendChild(opt);
    });
    size.addEventListener("change", function () { self.pageSize = Number(size.value); self.page = 0; self.refresh(); });
    this.pager.replaceChildren(
      el("span", { className: "muted", text: start + "\u2013" + end + " of " + this.rows.length }),
      prev, el("span", { text: "page " + (this.page + 1) + " / " + pages }), next, size
    );
  };

  /* ---- apps ---- */
  var $ = function (id) { return document.getElementById(id); };
  var appFilters = { marketing: $("marketing-only"), unsanctioned: $("unsanctioned-only"), risk: $("a-risk"), severity: $("a-severity"), search: $("app-search") };

  function appCells(a) {
    var name = el("td", {}, [
      el("span", { className: "appname", text: a.name }),
      a.is_new ? el("span", { className: "tag tag-new", text: "new" }) : null,
      a.is_marketing ? el("span", { className: "tag tag-mkt", text: "marketing", title: a.marketing_reason }) : null,
      a.ai_tool ? el("span", { className: "tag tag-ai", text: "AI", title: "generative-AI tool (" + a.category + ")" }) : null,
      a.lookalike_of ? el("span", { className: "tag tag-warn", text: "look-alike" }) : null,
      el("span", { className: "vendor", text: [a.vendor, a.domain].filter(Boolean).join(" \u00b7 ") }),
    ]);
    var bar = el("span", { className: "riskbar" }, [el("i")]);
    bar.firstChild.style.width = Math.max(2, Math.min(100, a.risk_score)) + "%";
    bar.firstChild.style.background = RISK_COLOUR[a.risk_level] || "#64748b";
    var findings = el("td", { className: "n" }, [
      a._open ? el("span", { className: "risk" }, [el("i", { className: "dot dot-" + Object.keys(SEV_RANK)[a._worst] }), String(a._open)]) : el("span", { className: "muted", text: "0" }),
    ]);
    return [
      name,
      el("td", { text: label(a.category) }),
      el("td", {}, [statusPill(a.sanction_status)]),
      el("td", { className: "n", text: usersText(a), title: a.users_unknown ? UNKNOWN_WHY : null }),
      el("td", {}, [el("span", { className: "risk", title: riskTitle(a) }, [bar, el("b", { text: a.risk_score }), el("span", { className: "muted", text: a.risk_level })])]),
      findings,
      el("td", { text: (a.sources || []).join(", ") }),
      el("td", { className: "muted", text: a.sign_ins_unknown ? "unknown" : (day(a.last_sign_in) || "never"), title: a.sign_ins_unknown ? UNKNOWN_WHY : null }),
    ];
  }

  function riskTitle(a) {
    return a.score_level && a.score_level !== a.risk_level ?
      "score " + a.risk_score + " alone is " + a.score_level + "; its worst open finding is " + a.worst_severity : a.risk_level;
  }

  /* A figure that depends on a stream not collected reads "unknown", never 0. */
  var UNKNOWN_WHY = "not collected in this scan (see Scan and sources)";
  function usersText(a) {
    if (!a.users_unknown) { return String(a.users); }
    return a.users ? a.users + "+" : "unknown";
  }
  /* 1234 -> "1,234". */
  function grouped(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ","); }
  function markDisabled(a) {
    var disabled = a.people_disabled_list || [];
    return (a.users_shown || []).map(function (u) {
      return disabled.indexOf(u) >= 0 ? u + " (disabled)" : u;
    });
  }
  function spendText(a) {
    // One total per currency, never converted.
    var rows = a.spend_by_currency || [];
    if (!rows.length) { return a.spend ? a.spend.toFixed(2) + " " + (a.spend_currency || "") : null; }
    return rows.map(function (r) { return r.total.toFixed(2) + " " + r.currency; }).join(" + ");
  }

  /* "12, 2 of them disabled": each person once across sources, disabled ones counted apart. */
  function peopleText(a) {
    var n = usersText(a);
    return a.people_disabled ? n + ", " + a.people_disabled + " of them disabled" : n;
  }

  function appSortValue(a, key) {
    switch (key) {
      case "name": return a.name.toLowerCase();
      case "category": return label(a.category);
      case "sanction_status": return rank(STATUS_RANK, a.sanction_status);
      case "findings": return a._open * 10 + (9 - a._worst);
      case "sources": return (a.sources || []).join(",");
      case "last_sign_in": return a.last_sign_in || "";
      case "risk_score": return riskOrder(a);
      default: return a[key];
    }
  }

  function appFilter(a) {
    var q = appFilters.search.value.trim().toLowerCase();
    var minRisk = appFilters.risk.value, minSev = appFilters.severity.value;
    return (!appFilters.marketing.checked || a.is_marketing) &&
      (!appFilters.unsanctioned.checked || a.sanction_status === "unsanctioned") &&
      (!minRisk || rank(SEV_RANK, a.risk_level) <= rank(SEV_RANK, minRisk)) &&
      (!minSev || a._worst <= rank(SEV_RANK, minSev)) &&
      (!q || a._search.indexOf(q) !== -1);
  }

  function section(title, children) { return el("div", { className: "block" }, [el("h3", { text: title })].concat(children)); }
  function facts(pairs) {
    var dl = el("dl", { className: "facts" });
    pairs.forEach(function (p) {
      if (p[1] === null || p[1] === undefined || p[1] === "") { return; }
      dl.appendChild(el("dt", { text: p[0] }));
      dl.appendChild(el("dd", {}, [typeof p[1] === "object" ? p[1] : String(p[1])]));
    });
    return dl;
  }
  function list(items, className) {
    return el("ul", { className: className || "reasons" }, items.map(function (t) { return el("li", { text: t }); }));
  }

  // As Python's shlex.quote (reports/actions.py accept_line): an id holds a provider's client
  // id, and a pasted line must keep it one argument.
  function shellQuote(s) {
    return /^[A-Za-z0-9_@%+=:,.\/-]+$/.test(s) ? s : "'" + s.replace(/'/g, "'\"'\"'") + "'";
  }
  function acceptLine(f) {
    return "shadowit accept --config " + shellQuote(DATA.accept.config) + " " + shellQuote(f.id) + " --until " + DATA.accept.until + " --reason " + shellQuote("why it is accepted");
  }
  function copyable(text, className) {
    return el("code", { className: "copy " + (className || ""), text: text, title: "one tap selects it" });
  }
  function findingCard(f) {
    return el("div", { className: "finding-card sev-b-" + f.severity, "data-finding-id": f.id }, [
      el("div", {}, [sevPill(f.severity), " ", el("b", { text: words("finding_kind", f.kind) }), " ", el("span", { className: "muted", text: (f.decision || words("finding_status", f.status)) + " \u00b7 opened " + day(f.opened) })]),
      f.not_rechecked ? el("div", { className: "warnbox", text: f.not_rechecked + "; kept as it was" }) : null,
      list(f.reasons || []),
      el("div", {}, [el("b", { text: "What to do: " }), f.remediation || ""]),
      el("div", { className: "muted small" }, ["ID ", el("code", { className: "finding-id", text: f.id })]),
      f.open ? el("div", { className: "accept" }, [el("span", { className: "muted small", text: "To accept the risk until a date: " }), copyable(acceptLine(f), "accept-line")]) : null,
    ]);
  }

  /* reports/ownership.py: one owner (confirmed over the sanctioned list over a suggestion,
     with which it is) and what the owner last answered. */
  function ownershipFacts(a) {
    var o = a.ownership || {}, conf = a.confirmation || {};
    var state = words("confirmation", conf.state || "unconfirmed");
    var asked = conf.owner && conf.owner !== o.owner ? " (" + conf.owner + ")" : "";
    return [
      ["Owner", o.owner ? o.owner + " \u00b7 " + o.owner_source_text : "nobody yet: no owner confirmed, listed or suggested"],
      ["Team", o.team], ["Purpose", o.purpose], ["Data held", o.data_held],
      ["Renewal", o.renewal_date],
      ["Confirmation", state + asked],
      ["Answer", o.answer ? o.answer_text + (o.answered_by ? " \u2014 " + o.answered_by : "") + (o.answered_at ? ", " + day(o.answered_at) : "") : null],
      ["Note", o.note],
    ];
  }

  function appDetail(a) {
    var head = el("div", { className: "head" }, [
      el("h3", { text: a.name }), statusPill(a.sanction_status),
      a.is_marketing ? el("span", { className: "tag tag-mkt", text: "marketing" }) : null,
      a.is_new ? el("span", { className: "tag tag-new", text: "new since last scan" }) : null,
      el("span", { className: "risk" }, [sevPill(a.risk_level), el("b", { text: "risk " + a.risk_score + "/100" })]),
      el("span", { className: "muted", text: [a.vendor, a.domain, label(a.category)].filter(Boolean).join(" \u00b7 ") }),
    ]);
    var warnings = [];
    if (a.lookalike_of) { warnings.push(el("div", { className: "warnbox", text: "Looks like " + a.lookalike_of + " but is not it: check the publisher and domain before trusting it." })); }
    var ownership = section("Owner and confirmation", [facts(ownershipFacts(a))]);
    var risk = section("Why it is risky", [a.risk_reasons && a.risk_reasons.length ? list(a.risk_reasons) : el("p", { className: "muted", text: "No risk factors." })]);
    var FACT = { mfa: "MFA", no_mfa: "MFA", sso: "SSO", sso_paid: "SSO", ai: "AI" };
    var vendor = section("Vendor security", (a.vendor_facts || []).length ? [el("ul", { className: "plain" }, a.vendor_facts.map(function (f) {
      return el("li", {}, [el("b", { text: FACT[f.fact] || f.fact }), " ", f.what, f.source ? el("span", { className: "muted small", text: " \u2014 source: " + f.source }) : null]);
    }))] : [el("p", { className: "muted", text: "No vendor facts in the catalog (MFA and SSO unknown)." })]);
    var fs = findingsByApp[a.key] || [];
    var findings = section("Findings (" + fs.length + ")", fs.length ? fs.map(findingCard) : [el("p", { className: "muted", text: "No findings." })]);
    var matched = el("ul", { className: "plain" }, (a.matched_by || []).map(function (m) {
      return el("li", {}, [el("b", { text: label(m.rule) }), " ", el("code", { text: m.value }), m.score ? " (" + m.score + ")" : ""]);
    }));
    var found = section("Where it was found", [facts([
      ["Sources", (a.sources || []).join(", ")], ["Matched by", matched],
      ["Seen as", (a.raw_names || []).join(", ")], ["Client IDs", (a.client_ids || []).join(", ")],
      ["Kinds", (a.kinds || []).map(label).join(", ")],
      ["Publisher", a.publisher ? a.publisher + (a.publisher_verified ? " (verified)" : " (not verified)") : "not stated"],
      ["First seen", day(a.first_seen)], ["Last seen", day(a.last_seen)],
      ["Last sign-in", a.sign_ins_unknown ? "unknown (sign-ins not collected)" : (day(a.last_sign_in) || "none recorded")],
      ["Sign-ins, 30 days", a.sign_ins_unknown ? "unknown (sign-ins not collected)" : a.sign_ins_30d],
      ["Failed sign-ins", a.sign_ins_unknown ? "unknown (sign-ins not collected)" : (a.failed_sign_ins || null)],
      ["Access", a.access ? words("access", a.access) : null],
      ["Single sign-on", (a.sso || []).length ? a.sso.join(", ") : "none: people use the vendor's own accounts"],
      ["Spend", spendText(a)],
      ["Contract", a.renewal_date ? "renews " + a.renewal_date + (a.notice_days ? ", " + a.notice_days + " days' notice" : "") +
        (a.annual_cost != null ? ", " + a.annual_cost.toFixed(2) + " " + (a.cost_currency || "") + " a year" : "") : null],
    ])]);
    var top = Math.max.apply(null, (a.departments || []).map(function (d) { return d.users; }).concat([1]));
    var depts = (a.departments || []).map(function (d) {
      var b = el("span", { className: "b" });
      b.style.width = Math.max(2, (d.users / top) * 100) + "%";
      return el("div", { className: "deptbar" }, [el("span", { text: d.department || "no department" }), el("span", {}, [b]), el("span", { className: "n", text: d.users })]);
    });
    var more = a.users - (a.users_shown || []).length;
    // report.json names the first [report] users_listed people and counts the rest.
    var named = a.users - (a.users_more || 0);
    var moreText = "and " + grouped(more) + " more" + (a.users_more ?
      " (report.json names the first " + grouped(named) + ")" : " in report.json");
    var users = section("People (" + peopleText(a) + ")", depts.concat([
      el("p", { className: "muted small", text: a.marketing_reason || "" }),
      el("details", {}, [el("summary", { text: "Who uses it" }), list(markDisabled(a), "plain"),
        more > 0 ? el("div", { className: "more", text: moreText }) : null]),
    ]));
    var scopes = (a.scopes || []).map(function (s) {
      return el("tr", {}, [el("td", {}, [el("code", { text: s[0] })]), el("td", {}, [sevPill(s[1])]),
        el("td", { text: DATA.meanings[(s[4] === "application" ? "application:" : "") + s[0]] || "" }), el("td", { text: (s[2] || []).join(", ") }), el("td", { className: "n", text: s[3] })]);
    });
    var flags = [a.admin_consent ? "admin consent: granted for everyone in the organisation" : null,
      a.app_only ? "app-only access: acts without a signed-in user" : null].filter(Boolean);
    var perms = section("What it can reach (" + scopes.length + " permissions)", [
      flags.length ? list(flags) : null,
      scopes.length ? el("div", { className: "scroll" }, [el("table", { className: "compact" }, [
        el("thead", {}, [el("tr", {}, ["Permission", "Level", "What it allows", "Consent", "Grants"].map(function (h) { return el("th", { text: h }); }))]),
        el("tbody", {}, scopes)])]) : el("p", { className: "muted", text: "No delegated or application permissions recorded (sign-in only)." }),
    ]);
    return el("div", { className: "app-detail" }, [head].concat(warnings, [
      el("div", { className: "cols" }, [el("div", {}, [ownership, risk, findings]), el("div", {}, [found, vendor, users])]),
      perms,
    ]));
  }

  var apps = new PagedTable({
    id: "apps-table", pager: "apps-pager", count: "app-count", noun: "apps", columns: 8, pageSize: 50,
    rows: DATA.apps, sort: ["risk_score", -1], filter: appFilter, cells: appCells, detail: appDetail,
    sortValue: appSortValue, key: function (a) { return a.key; }, tiebreak: function (a) { return a.name.toLowerCase(); },
    firstDir: { users: -1, risk_score: -1, findings: -1, last_sign_in: -1 },
  });
  apps.body.addEventListener("click", function (e) {
    var tr = e.target.closest("tr.row");
    if (!tr || e.target.closest("a")) { return; }
    var app = appsByKey[tr.getAttribute("data-key")];
    if (app) { apps.toggle(app, tr); }
  });

  /* ---- findings: one row per app, its finding kinds as chips, the worst severity ---- */
  var fFilters = { severity: $("f-severity"), open: $("f-open"), marketing: $("f-marketing"), search: $("f-search") };
  function findingShown(f) {
    var q = fFilters.search.value.trim().toLowerCase();
    return (!fFilters.severity.value || f.severity === fFilters.severity.value) &&
      (!fFilters.open.checked || f.open) &&
      (!fFilters.marketing.checked || f._marketing) && (!q || f._search.indexOf(q) !== -1);
  }
  var findingApps = Object.keys(findingsByApp).map(function (key) {
    var fs = findingsByApp[key], first = fs[0];
    return { key: key, name: first.app, app: appsByKey[key] || null, all: fs, shown: fs };
  });
  function shownWorst(g) {
    return g.shown.reduce(function (w, f) { return Math.min(w, rank(SEV_RANK, f.severity)); }, 9);
  }
  function firstOpened(g) {
    return g.shown.reduce(function (d, f) { return !d || (f.opened && f.opened < d) ? f.opened : d; }, "");
  }
  var byApp = new PagedTable({
    id: "findings-table", pager: "findings-pager", count: "f-count", noun: "apps with findings", columns: 6, pageSize: 25,
    rows: findingApps, sort: ["severity", 1],
    filter: function (g) {
      g.shown = g.all.filter(findingShown).sort(function (x, y) { return rank(SEV_RANK, x.severity) - rank(SEV_RANK, y.severity); });
      return g.shown.length > 0;
    },
    cells: function (g) {
      var worst = Object.keys(SEV_RANK)[shownWorst(g)];
      var chips = el("div", { className: "chips" }, g.shown.map(function (f) {
        return el("span", { className: "kind kind-" + f.severity, text: words("finding_kind", f.kind), title: f.severity + ", " + words("finding_status", f.status) });
      }));
      var open = g.shown.filter(function (f) { return f.open; }).length;
      return [
        el("td", {}, [sevPill(worst)]),
        el("td", {}, [appLink(g.key, g.name), g.app ? el("span", { className: "vendor", text: words("sanction", g.app.sanction_status) + " \u00b7 " + plural(g.app.people, "person", "people") }) : null]),
        el("td", {}, [chips]),
        el("td", { className: "n", text: open + " of " + g.shown.length + " open" }),
        el("td", { className: "muted nowrap", text: day(firstOpened(g)).slice(0, 10) }),
        el("td", {}, [el("button", { type: "button", className: "expand", "aria-expanded": byApp && byApp.open[g.key] ? "true" : "false", text: "Every finding" })]),
      ];
    },
    detail: function (g) {
      return el("div", { className: "app-findings" }, g.shown.map(findingCard));
    },
    detailId: "findings-",
    sortValue: function (g, key) {
      switch (key) {
        case "severity": return shownWorst(g) * 1000 - g.shown.length;
        case "app": return g.name.toLowerCase();
        case "findings": return -g.shown.length;
        case "opened": return firstOpened(g);
        default: return g[key];
      }
    },
    key: function (g) { return g.key; }, tiebreak: function (g) { return g.name.toLowerCase(); },
    firstDir: { opened: -1 },
  });
  byApp.body.addEventListener("click", function (e) {
    var tr = e.target.closest("tr.row");
    if (!tr || e.target.closest("a")) { return; }
    var g = findingApps.filter(function (x) { return x.key === tr.getAttribute("data-key"); })[0];
    if (g) {
      byApp.toggle(g, tr);
      var button = tr.querySelector("button.expand");
      if (button) { button.setAttribute("aria-expanded", byApp.open[g.key] ? "true" : "false"); }
    }
  });
  var findings = byApp;

  /* ---- wiring ---- */
  var timer = null;
  function later(fn) { return function () { clearTimeout(timer); timer = setTimeout(fn, 120); }; }
  function refreshApps() { apps.page = 0; apps.refresh(); }
  function refreshFindings() { findings.page = 0; findings.refresh(); }
  [appFilters.marketing, appFilters.unsanctioned, appFilters.risk, appFilters.severity].forEach(function (n) { n.addEventListener("change", refreshApps); });
  appFilters.search.addEventListener("input", later(refreshApps));
  [fFilters.severity, fFilters.open, fFilters.marketing].forEach(function (n) { n.addEventListener("change", refreshFindings); });
  fFilters.search.addEventListener("input", later(refreshFindings));

  Array.prototype.forEach.call(document.querySelectorAll("[data-apply]"), function (card) {
    card.addEventListener("click", function () {
      var what = card.getAttribute("data-apply");
      appFilters.marketing.checked = what === "marketing" || what === "unsanctioned-marketing";
      appFilters.unsanctioned.checked = what === "unsanctioned" || what === "unsanctioned-marketing";
      appFilters.risk.value = ""; appFilters.severity.value = ""; appFilters.search.value = "";
      refreshApps();
    });
  });

  function openFromHash() {
    var m = /^#app=(.+)$/.exec(location.hash);
    if (!m) { return; }
    var wanted = decodeURIComponent(m[1]);
    var app = appsByKey[wanted] || DATA.apps.filter(function (a) { return a.name === wanted; })[0];
    if (!app) { return; }
    clearTimeout(timer);
    apps.refresh();
    if (!apps.show(app)) {
      appFilters.marketing.checked = false; appFilters.unsanctioned.checked = false;
      appFilters.risk.value = ""; appFilters.severity.value = ""; appFilters.search.value = "";
      apps.refresh();
      apps.show(app);
    }
    var row = document.getElementById("app-" + app.key);
    /* The row's scroll-margin-top (report.css) keeps its title clear of the sticky nav. */
    if (row) { row.scrollIntoView({ block: "start" }); }
  }
  window.addEventListener("hashchange", openFromHash);

  var saved = null;
  window.addEventListener("beforeprint", function () {
    saved = [apps.pageSize, findings.pageSize];
    apps.pageSize = findings.pageSize = PRINT_ROWS;
    apps.refresh(); findings.refresh();
  });
  window.addEventListener("afterprint", function () {
    if (!saved) { return; }
    apps.pageSize = saved[0]; findings.pageSize = saved[1];
    apps.refresh(); findings.refresh();
  });

  apps.refresh();
  findings.refresh();
  openFromHash();
  document.documentElement.setAttribute("data-ready", "true");
})();
