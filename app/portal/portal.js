"use strict";
// The portal only ever calls the public API with the customer's own token: it holds no data
// of its own, and the API decides what this token may see. Dates are shown in the contract's
// timezone and amounts with the currency's symbol and decimals, in the browser's language.
const state = { token: sessionStorage.getItem("hourglass-token"), contracts: new Map(), invoices: new Map() };
const $ = (id) => document.getElementById(id);
const LANG = navigator.language || "en";
const POLL_MS = 1000;
const POLL_TRIES = 120;

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${state.token}`, ...(options.headers || {}) };
  if (options.body) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { ...options, headers });
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail || detail; } catch (_) { /* not JSON */ }
    throw new ApiError(response.status, detail);
  }
  return response;
}
const getJson = async (path) => (await api(path)).json();
// Every item of a paginated list, page after page.
async function getAll(path) {
  const items = [];
  let cursor = null;
  do {
    const page = await getJson(`${path}${path.includes("?") ? "&" : "?"}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}
const postJson = async (path, body) => (await api(path, { method: "POST", body: body ? JSON.stringify(body) : undefined })).json();

// ---- formatting -------------------------------------------------------------------------
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

// Intl.NumberFormat formats the API's decimal string exactly (no float on the way).
const money = (amount, currency) => new Intl.NumberFormat(LANG, { style: "currency", currency }).format(amount);
const isZero = (amount) => /^-?0*(\.0*)?$/.test(amount);
function dateOnly(isoDate) {
  if (!isoDate) return "";
  const [y, m, d] = isoDate.split("-").map(Number);
  return new Intl.DateTimeFormat(LANG, { dateStyle: "medium", timeZone: "UTC" }).format(Date.UTC(y, m - 1, d));
}
function monthName(isoMonth) {
  const [y, m] = isoMonth.split("-").map(Number);
  return new Intl.DateTimeFormat(LANG, { month: "long", year: "numeric", timeZone: "UTC" }).format(Date.UTC(y, m - 1, 1));
}
const instant = (iso, timeZone) => new Intl.DateTimeFormat(LANG, { dateStyle: "medium", timeStyle: "short", timeZone }).format(new Date(iso));
// An allotment expires at the end of its last day: show that day, in the contract's timezone.
const lastDay = (iso, timeZone) => new Intl.DateTimeFormat(LANG, { dateStyle: "medium", timeZone }).format(new Date(Date.parse(iso) - 1));
const todayIn = (timeZone) => new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
function hours(minutes) {
  const sign = minutes < 0 ? "−" : "";
  const abs = Math.abs(minutes);
  const h = new Intl.NumberFormat(LANG).format(Math.trunc(abs / 60));
  return `${sign}${h} h ${String(abs % 60).padStart(2, "0")} min`;
}
const timezoneOf = (contractId) => state.contracts.get(contractId)?.timezone || "UTC";
const contractName = (c) => `${c.plan_name} (contract ${c.id})`;
const SOURCE_WORDS = { allotment: "included hours", overage: "overage", on_demand: "on demand", late: "late work" };

function figures(pairs) {
  return el("dl", { class: "figures" }, ...pairs.map(([term, value]) => el("div", {}, el("dt", { text: term }), el("dd", { text: value }))));
}

async function download(path, fallbackName) {
  const response = await api(path);
  const disposition = response.headers.get("content-disposition") || "";
  const name = (disposition.match(/filename="([^"]+)"/) || [])[1] || fallbackName;
  const link = el("a", { href: URL.createObjectURL(await response.blob()), download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

function notice(message, isError = false) {
  $("notice").textContent = message;
  $("notice").className = isError ? "error" : "muted";
}
const guarded = (action) => async (event) => {
  event?.preventDefault?.();
  try { await action(event); } catch (error) { notice(error.message, true); }
};

// ---- balance and statement --------------------------------------------------------------
async function loadContracts() {
  const contracts = await getAll("/v1/contracts");
  const box = $("contracts");
  const select = $("statement-contract");
  box.replaceChildren();
  select.replaceChildren();
  if (!contracts.length) box.append(el("p", { class: "muted", text: "No contracts yet." }));
  for (const contract of contracts) {
    state.contracts.set(contract.id, contract);
    const balance = await getJson(`/v1/contracts/${contract.id}/balance`);
    const tz = contract.timezone;
    const card = el("div", { class: "card" },
      el("h3", { text: contractName(contract) }),
      el("p", { class: "muted", text: `${contract.status === "active" ? "Active" : "Ended"} since ${dateOnly(contract.start_date)}${contract.end_date ? `, until ${dateOnly(contract.end_date)}` : ""} · times in ${tz}` }),
      figures([["Hours left now", hours(balance.remaining_minutes)], ["Overage this period", hours(balance.overage_minutes)]]));
    for (const allotment of balance.allotments) {
      const months = allotment.months.map(monthName).join(" + ");
      card.append(el("p", { text: `${months}${allotment.pooled ? " (pooled)" : ""}: ${hours(allotment.granted_minutes)} included, ${hours(allotment.used_minutes)} used, ${hours(allotment.remaining_minutes)} left — expires at the end of ${lastDay(allotment.expires_at, tz)}` }));
    }
    box.append(card);
    select.append(el("option", { value: contract.id, text: contractName(contract) }));
  }
}

async function loadStatement() {
  const contractId = Number($("statement-contract").value);
  const month = $("statement-month").value;
  if (!contractId || !month) return;
  const statement = await getJson(`/v1/contracts/${contractId}/statement?month=${month}`);
  const table = el("table", { class: "entries" });
  const labels = ["Date", "Ticket", "Level", "Description", "Time", "Covered by"];
  table.append(el("thead", {}, el("tr", {}, ...labels.map((t, i) => el("th", { text: t, class: i === 4 ? "num" : null })))));
  const body = el("tbody");
  for (const entry of statement.entries) {
    const covered = entry.coverage.map((c) => `${SOURCE_WORDS[c.source] || c.source} ${hours(c.minutes)}`).join(", ");
    const cells = [dateOnly(entry.worked_on), entry.ticket_ref, `Level ${entry.level}`, entry.description, hours(entry.billable_minutes), covered];
    body.append(el("tr", {}, ...cells.map((value, i) => el("td", { "data-label": labels[i], text: value, class: i === 4 ? "num" : null }))));
  }
  table.append(body);
  const csv = el("button", { type: "button", class: "secondary", text: "Download CSV",
    onclick: guarded(() => download(`/v1/contracts/${contractId}/statement.csv?month=${month}`, `statement-${contractId}-${month}.csv`)) });
  $("statement").replaceChildren(
    el("h3", { text: `${monthName(month)}${statement.pooled ? " (pooled with the next or previous month)" : ""}` }),
    figures([["Included", hours(statement.granted_minutes)], ["Used", hours(statement.used_minutes)],
      ["Expired", hours(statement.expired_minutes)], ["Overage", hours(statement.overage_minutes)],
      ["Left", hours(statement.remaining_minutes)]]),
    statement.entries.length ? table : el("p", { class: "muted", text: "No work recorded in this month." }),
    el("div", { class: "actions" }, csv));
}

// ---- invoices and credit notes ----------------------------------------------------------
function invoiceStatus(invoice) {
  if (invoice.status === "paid") return ["Paid", "paid"];
  if (invoice.status === "void") return ["Void", "void"];
  if (invoice.due_date && invoice.due_date < todayIn(timezoneOf(invoice.contract_id))) return ["Overdue", "overdue"];
  return ["Open", "open"];
}
const amountDue = (invoice) => (invoice.status === "issued" ? invoice.total : "0");
function paymentWords(invoice) {
  if (invoice.status === "paid" && invoice.paid_at) return `Paid on ${instant(invoice.paid_at, timezoneOf(invoice.contract_id))}`;
  if (invoice.payment_status === "pending") return "A payment is being processed.";
  if (invoice.payment_status === "failed") return `The last payment failed: ${invoice.payment_failure_message || "no reason given"}`;
  return null;
}

function renderInvoice(invoice, creditNote) {
  const [statusWord, statusClass] = invoiceStatus(invoice);
  const headingId = `invoice-${invoice.id}-title`;
  const item = el("li", { id: `invoice-${invoice.id}`, "aria-labelledby": headingId, "data-status": invoice.status });
  const due = amountDue(invoice);
  item.append(
    el("div", { class: "doc-head" },
      el("h3", { id: headingId, text: `Invoice ${invoice.number} · ${monthName(invoice.period)}` }),
      el("span", { class: `badge ${statusClass}`, text: statusWord })),
    figures([["Issued", dateOnly(invoice.issue_date)], ["Due", dateOnly(invoice.due_date)],
      ["Total", money(invoice.total, invoice.currency)], ["Amount due", money(due, invoice.currency)]]));
  const words = paymentWords(invoice);
  if (words) item.append(el("p", { class: invoice.payment_status === "failed" && invoice.status === "issued" ? "error" : "muted", text: words }));
  const actions = el("div", { class: "actions" },
    el("button", { type: "button", class: "secondary", "aria-describedby": headingId, text: "Download PDF",
      onclick: guarded(() => download(`/v1/invoices/${invoice.id}/pdf`, `${invoice.number}.pdf`)) }),
    el("button", { type: "button", class: "secondary", "aria-describedby": headingId, text: "Download e-invoice",
      onclick: guarded(() => download(`/v1/invoices/${invoice.id}/e-invoice?format=${state.eInvoiceFormat}`, `${invoice.number}.xml`)) }));
  if (invoice.status === "issued" && !isZero(due) && invoice.payment_status !== "pending" && state.cardsAccepted) {
    actions.append(el("button", { type: "button", "aria-describedby": headingId, text: "Pay", onclick: guarded(() => openPayForm(invoice, item)) }));
  }
  item.append(actions);
  if (creditNote) {
    const noteId = `credit-note-${creditNote.id}-title`;
    item.append(el("div", { class: "credit-note", "aria-labelledby": noteId },
      el("h3", { id: noteId, text: `Credit note ${creditNote.number}, correcting invoice ${invoice.number}` }),
      figures([["Issued", dateOnly(creditNote.issue_date)], ["Credited", money(creditNote.total, creditNote.currency)]]),
      creditNote.reason ? el("p", { class: "muted", text: `Reason: ${creditNote.reason}` }) : null,
      el("div", { class: "actions" },
        el("button", { type: "button", class: "secondary", "aria-describedby": noteId, text: "Download credit note PDF",
          onclick: guarded(() => download(`/v1/credit-notes/${creditNote.id}/pdf`, `${creditNote.number}.pdf`)) }),
        el("button", { type: "button", class: "secondary", "aria-describedby": noteId, text: "Download credit note e-invoice",
          onclick: guarded(() => download(`/v1/credit-notes/${creditNote.id}/e-invoice?format=${state.eInvoiceFormat}`, `${creditNote.number}.xml`)) }))));
  }
  return item;
}

async function loadInvoices() {
  const invoices = (await getAll("/v1/invoices")).sort((a, b) => (b.issue_date || "").localeCompare(a.issue_date || "") || b.id - a.id);
  const list = $("invoices");
  list.replaceChildren();
  state.invoices.clear();
  for (const invoice of invoices) {
    state.invoices.set(invoice.id, invoice);
    const note = invoice.credit_note_id ? await getJson(`/v1/credit-notes/${invoice.credit_note_id}`) : null;
    list.append(renderInvoice(invoice, note));
  }
  renderSummary();
}

function renderSummary() {
  const invoices = [...state.invoices.values()];
  const due = new Map();
  for (const invoice of invoices.filter((i) => i.status === "issued")) due.set(invoice.currency, [...(due.get(invoice.currency) || []), invoice]);
  const parts = [...due.entries()].map(([currency, open]) => {
    const overdue = open.filter((i) => invoiceStatus(i)[1] === "overdue").length;
    return `${open.length} open in ${currency}${overdue ? `, ${overdue} overdue` : ""}`;
  });
  $("invoices-summary").textContent = !invoices.length ? "No invoices yet." : parts.length ? `To pay: ${parts.join("; ")}.` : "Nothing to pay.";
}

async function refreshInvoice(invoiceId) {
  const invoice = await getJson(`/v1/invoices/${invoiceId}`);
  const note = invoice.credit_note_id ? await getJson(`/v1/credit-notes/${invoice.credit_note_id}`) : null;
  state.invoices.set(invoice.id, invoice);
  const old = $(`invoice-${invoice.id}`);
  if (old) old.replaceWith(renderInvoice(invoice, note));
  return invoice;
}

// ---- paying by card ---------------------------------------------------------------------
const CARD_INPUT_NAMES = { number: "Card number", exp_month: "Expiry month", exp_year: "Expiry year (two digits)", cvc: "Security code (CVC)", postal_code: "Postal code" };

async function openPayForm(invoice, item) {
  item.querySelector(".pay-form")?.remove();
  const payment = await postJson(`/v1/invoices/${invoice.id}/payment-intent`);
  if (!payment.setup_intent_client_secret) { await watchUntilPaid(invoice.id); return; }
  const stripe = Stripe(payment.publishable_key);
  const card = stripe.elements().create("card");
  const mount = el("div", { class: "card-element" });
  const status = el("p", { role: "status" });
  const submit = el("button", { type: "submit", text: "Pay now" });
  const form = el("form", { class: "pay-form", "aria-label": `Pay invoice ${invoice.number}` },
    el("p", { text: `Pay ${money(payment.amount, payment.currency)} by card` }), mount, submit, status);
  item.append(form);
  card.mount(mount);
  // localstripe's test card element has unlabelled inputs: name them for screen readers.
  for (const input of mount.querySelectorAll("input[placeholder]")) {
    const name = CARD_INPUT_NAMES[input.getAttribute("placeholder")];
    if (name) input.setAttribute("aria-label", name);
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    status.className = "";
    status.textContent = "Paying…";
    try {
      const setup = await stripe.confirmCardSetup(payment.setup_intent_client_secret, { payment_method: { card } });
      if (setup.error) throw new Error(setup.error.message || "The card was not accepted.");
      let result = await postJson(`/v1/invoices/${invoice.id}/payment-intent/confirm`, { setup_intent_id: setup.setupIntent.id });
      if (result.status === "requires_action") {
        const authenticated = await stripe.confirmCardPayment(result.client_secret);
        if (authenticated.error) throw new Error(authenticated.error.message || "The card was not authenticated.");
      }
      status.textContent = "Payment accepted. Waiting for confirmation…";
      await watchUntilPaid(invoice.id);
    } catch (error) {
      status.className = "error";
      status.textContent = `${error.message} You can try again.`;
      submit.disabled = false;
      if (error instanceof ApiError && error.status === 402) {
        // A declined attempt is over: the next "Pay now" starts a fresh one.
        form.remove();
        await refreshInvoice(invoice.id);
        notice(`Invoice ${invoice.number}: ${error.message}`, true);
      }
    }
  });
}

// The webhook marks the invoice paid; poll it so the page shows that without a reload.
async function watchUntilPaid(invoiceId) {
  for (let i = 0; i < POLL_TRIES; i += 1) {
    const invoice = await getJson(`/v1/invoices/${invoiceId}`);
    if (invoice.status !== "issued" || invoice.payment_status === "failed") {
      await refreshInvoice(invoiceId);
      notice(invoice.status === "paid" ? `Invoice ${invoice.number} is paid. Thank you.` : `Invoice ${invoice.number}: ${invoice.payment_failure_message || invoice.status}`, invoice.status !== "paid");
      renderSummary();
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  notice("The payment is still being processed. This page will show it once it is done; you can also reload later.");
}
// ---- sign in ----------------------------------------------------------------------------
async function start() {
  if (!state.token) return;
  try {
    const customers = (await getJson("/v1/customers")).items;
    if (customers.length !== 1) throw new ApiError(403, "This portal is for customers: sign in with your customer access token.");
    const customer = customers[0];
    state.customerId = customer.id;
    state.eInvoiceFormat = customer.e_invoice_format || "cii";
    state.cardsAccepted = typeof Stripe === "function";
    $("who").textContent = customer.name;
    $("signin").hidden = true;
    $("account").hidden = false;
    $("signout").hidden = false;
    $("signin-error").textContent = "";
    await loadContracts(); // first: invoices are shown in their contract's timezone
    await loadInvoices();
    const firstContract = [...state.contracts.values()][0];
    if (firstContract) {
      $("statement-month").value = todayIn(firstContract.timezone).slice(0, 7);
      await loadStatement();
    }
  } catch (error) {
    sessionStorage.removeItem("hourglass-token");
    state.token = null;
    $("signin").hidden = false;
    $("account").hidden = true;
    $("signin-error").textContent = error instanceof ApiError && error.status === 401
      ? "This access token is not valid. Check it and try again."
      : error.message;
  }
}

$("signin-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.token = $("token").value.trim();
  $("token").value = "";
  sessionStorage.setItem("hourglass-token", state.token);
  start();
});
$("signout").addEventListener("click", () => { sessionStorage.removeItem("hourglass-token"); location.reload(); });
$("statement-form").addEventListener("submit", guarded(loadStatement));
start();
