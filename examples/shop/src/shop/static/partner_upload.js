// The feed upload page: no build step, no framework. Everything a server sends back is
// written with textContent, never as HTML, so a feed's content cannot run here.
"use strict";

(function () {
  const form = document.getElementById("upload-form");
  const $ = (id) => document.getElementById(id);

  function say(text, isError) {
    const message = $("message");
    message.textContent = text;
    message.className = isError ? "error" : "";
  }

  function problemText(xhrOrResponse, body) {
    if (body && typeof body.detail === "string") return body.detail;
    return "The upload failed (HTTP " + xhrOrResponse.status + ").";
  }

  function showErrors(errors) {
    const tbody = $("errors").querySelector("tbody");
    tbody.replaceChildren();
    for (const error of errors) {
      const row = document.createElement("tr");
      for (const value of [error.line, error.index, error.field, error.code, error.message]) {
        const cell = document.createElement("td");
        cell.textContent = value === null || value === undefined ? "" : String(value);
        row.appendChild(cell);
      }
      tbody.appendChild(row);
    }
  }

  function showJob(job) {
    $("job-id").textContent = String(job.id);
    $("job-status").textContent = job.status;
    const total = job.records || job.processed || 0;
    const done = job.status === "succeeded" || job.status === "failed";
    $("job-progress").value = done ? 100 : total ? Math.min(99, (100 * job.processed) / total) : 5;
    $("records").textContent = String(job.records);
    $("accepted").textContent = String(job.accepted);
    $("rejected").textContent = String(job.rejected);
    $("result").hidden = false;
    showErrors(job.errors || []);
  }

  async function poll(url, key) {
    for (;;) {
      const response = await fetch(url, { headers: { Authorization: "Bearer " + key } });
      let body = null;
      try { body = await response.json(); } catch (e) { body = null; }
      if (!response.ok) { say(problemText(response, body), true); return; }
      showJob(body);
      if (body.status === "succeeded" || body.status === "failed") {
        say(body.status === "succeeded"
          ? "Done: " + body.accepted + " accepted, " + body.rejected + " rejected."
          : "The job failed; see the errors below.", body.status === "failed");
        $("submit").disabled = false;
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("api-key").value.trim();
    const file = $("feed-file").files[0];
    if (!file) { say("Choose a feed file.", true); return; }
    const mode = form.querySelector("input[name=mode]:checked").value;
    const dryRun = $("dry-run").checked ? "true" : "false";
    const data = new FormData();
    data.append("file", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/partner/feeds?mode=" + encodeURIComponent(mode) + "&dry_run=" + dryRun);
    xhr.setRequestHeader("Authorization", "Bearer " + key);
    xhr.responseType = "json";
    $("progress-section").hidden = false;
    $("upload-progress").value = 0;
    $("job-progress").value = 0;
    $("submit").disabled = true;
    say("Uploading...", false);
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) $("upload-progress").value = (100 * e.loaded) / e.total;
    });
    xhr.addEventListener("load", () => {
      const body = xhr.response;
      if (xhr.status !== 202 || !body) {
        say(problemText(xhr, body), true);
        $("submit").disabled = false;
        return;
      }
      $("upload-progress").value = 100;
      $("job-id").textContent = String(body.job_id);
      say("Uploaded; validating...", false);
      poll(body.status_url, key).catch(() => {
        say("Lost contact with the shop; reload to try again.", true);
        $("submit").disabled = false;
      });
    });
    xhr.addEventListener("error", () => {
      say("The upload did not reach the shop.", true);
      $("submit").disabled = false;
    });
    xhr.send(data);
  });
})();
