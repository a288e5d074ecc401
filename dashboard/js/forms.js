// Labelled fields whose errors (the API's details[].field, or our own) show beside them.

import { ApiError } from "./api.js";
import { h } from "./format.js";

/** A labelled control with a hint and an error slot; returns {wrapper, input, error}. */
export function field(prefix, name, label, control, hint) {
  const id = `${prefix}-${name}`;
  control.id = id;
  control.name = name;
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  control.setAttribute("aria-describedby", [hintId, errorId].filter(Boolean).join(" "));
  const error = h("p", { class: "field-error", id: errorId, "data-field": name, "aria-live": "polite" });
  const wrapper = h(
    "div",
    { class: "field", "data-field": name },
    h("label", { for: id }, label),
    control,
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
    error,
  );
  return { wrapper, input: control, error };
}

export class FieldErrors {
  constructor(fields, formError) {
    this.fields = fields; // name → {input, error}
    this.formError = formError;
  }

  clear() {
    for (const { input, error } of Object.values(this.fields)) {
      error.textContent = "";
      input.removeAttribute("aria-invalid");
    }
    this.formError.textContent = "";
  }

  set(name, message) {
    const target = this.fields[name];
    if (!target) return false;
    target.error.textContent = message;
    target.input.setAttribute("aria-invalid", "true");
    return true;
  }

  /** Show an API error beside its fields; what concerns no field goes to the form's line. */
  show(error) {
    this.clear();
    if (!(error instanceof ApiError)) {
      this.formError.textContent = error?.message || "Something went wrong.";
      return;
    }
    const unplaced = [];
    let first = null;
    for (const [name, message] of Object.entries(error.fieldErrors())) {
      if (this.set(name, message)) first ??= this.fields[name].input;
      else unplaced.push(message);
    }
    if (unplaced.length || !first) {
      this.formError.textContent = [error.message, ...unplaced].filter(Boolean).join(" ");
    }
    first?.focus();
  }
}
