// SPDX-License-Identifier: BSD-2-Clause
// The login page: says why the last attempt failed.
"use strict";
(function () {
  const why = new URLSearchParams(location.search).get("error");
  const el = document.getElementById("login-error");
  const text = { wrong: "Wrong user or password.", missing: "Enter a user and a password." }[why];
  if (text) {
    el.textContent = text;
    el.hidden = false;
  }
})();
