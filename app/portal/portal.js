"use strict";
// The portal only ever calls the public API with the customer's own token: it holds no data
// of its own, and the API decides what this token may see.
const state = { token: sessionStorage.getItem("hourglass-token") };
const $ = (id) => document.getElementById(id);

async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { Authorization: `Bearer ${state.token}`, "Content-Type": "application/json", ...(options.headers || {}) },
  });
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail || detail; } catch (_) { /* not JSON */ }
    throw new Error(detail);
  }
  return response;
}

function text(tag, value, className) {
  const cell = document.createElement(tag);
  cell.textContent = value == null ? "" : String(value);
  if (className) cell.className = className;
  return cell;
}

const hours = (minutes) => `${Math.trunc(minutes / 60)}:${String(Math.abs(minutes % 60)).padStart(2, "0")} h`;

async function loadContracts() {
  const contracts = (await (await api("/v1/contracts?limit=200")).json()).items;
  const box = $("contracts");
  box.replaceChildren();
  $("statement-contract").replaceChildren();
  for (const contract of contracts) {
    const balance = await (await api(`/v1/contracts/${contract.id}/balance`)).json();
    const card = document.createElement("div");
    card.className = "card";
    card.append(
      text("strong", `Contract ${contract.id} — ${contract.plan_code}`),
      text("p", `Remaining now: ${hours(balance.remaining_minutes)}; overage this period: ${hours(balance.overage_minutes)}`),
    );
    for (const allotment of balance.allotments) {
      card.append(text("p", `${allotment.months.join("/")}: granted ${hours(allotment.granted_minutes)}, used ${hours(allotment.used_minutes)}, expires ${new Date(allotment.expires_at).toLocaleString()}${allotment.pooled ? " (pooled)" : ""}`));
    }
    box.append(card);
    const option = text("option", `Contract ${contract.id}`);
    option.value = contract.id;
    $("statement-contract").append(option);
  }
}

async function loadStatement(event) {
  event.preventDefault();
  const statement = await (await api(`/v1/contracts/${$("statement-contract").value}/statement?month=${$("statement-month").value}`)).json();
  const table = document.createElement("table");
  const head = document.createElement("tr");
  for (const title of ["Date", "Ticket", "Level", "Minutes", "Covered by"]) head.append(text("th", title));
  table.append(head);
  for (const entry of statement.entries) {
    const row = document.createElement("tr");
    const covered = entry.coverage.map((c) => `${c.source} ${c.minutes} min`).join(", ");
    row.append(text("td", entry.worked_on), text("td", entry.ticket_ref), text("td", entry.level),
      text("td", entry.billable_minutes, "num"), text("td", covered));
    table.append(row);
  }
  $("statement").replaceChildren(
    text("p", `Granted ${hours(statement.granted_minutes)}, used ${hours(statement.used_minutes)}, expired ${hours(statement.expired_minutes)}, overage ${hours(statement.overage_minutes)}, remaining ${hours(statement.remaining_minutes)}${statement.pooled ? " (pooled)" : ""}`),
    table,
  );
}

async function download(invoice) {
  const blob = await (await api(`/v1/invoices/${invoice.id}/pdf`)).blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `invoice-${invoice.number}.pdf`;
  link.click();
  URL.revokeObjectURL(link.href);
}

async function loadInvoices() {
  const invoices = (await (await api("/v1/invoices?limit=200")).json()).items;
  const body = $("invoices").querySelector("tbody");
  body.replaceChildren();
  for (const invoice of invoices) {
    const row = document.createElement("tr");
    const button = text("button", "PDF");
    button.addEventListener("click", () => download(invoice));
    const action = document.createElement("td");
    action.append(button);
    row.append(text("td", invoice.number), text("td", invoice.period), text("td", invoice.issue_date),
      text("td", invoice.due_date), text("td", `${invoice.total} ${invoice.currency}`, "num"),
      text("td", invoice.status), text("td", invoice.payment_status), action);
    body.append(row);
  }
}

async function savePaymentMethod(event) {
  event.preventDefault();
  try {
    await api(`/v1/customers/${state.customerId}/payment-method`, {
      method: "POST", body: JSON.stringify({ payment_method_id: $("payment-method").value }),
    });
    $("payment-result").textContent = "Saved: open invoices will be collected with it.";
  } catch (error) {
    $("payment-result").textContent = error.message;
  }
}

async function start() {
  if (!state.token) return;
  try {
    const customers = (await (await api("/v1/customers")).json()).items;
    if (customers.length !== 1) throw new Error("this page is for customer tokens");
    state.customerId = customers[0].id;
    $("who").textContent = customers[0].name;
    $("signin").hidden = true;
    $("account").hidden = false;
    $("signout").hidden = false;
    $("statement-month").value = new Date().toISOString().slice(0, 7);
    await Promise.all([loadContracts(), loadInvoices()]);
  } catch (error) {
    sessionStorage.removeItem("hourglass-token");
    state.token = null;
    $("signin-error").textContent = error.message;
  }
}

$("signin-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.token = $("token").value.trim();
  sessionStorage.setItem("hourglass-token", state.token);
  start();
});
$("signout").addEventListener("click", () => { sessionStorage.removeItem("hourglass-token"); location.reload(); });
$("statement-form").addEventListener("submit", (event) => loadStatement(event).catch((e) => alert(e.message)));
$("payment-form").addEventListener("submit", savePaymentMethod);
start();
