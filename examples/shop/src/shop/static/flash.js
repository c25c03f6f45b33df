// The flash-sale page: buy buttons, error messages in place, a countdown on 429.
(function () {
  "use strict";
  var tokenInput = document.getElementById("token");
  var message = document.getElementById("message");
  var countdown = null;

  // "shop serve" prints /flash#token=...: keep the token, drop it from the address bar.
  var match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (match) {
    window.localStorage.setItem("shop-token", decodeURIComponent(match[1]));
    history.replaceState(null, "", window.location.pathname);
  }
  tokenInput.value = window.localStorage.getItem("shop-token") || "";
  tokenInput.addEventListener("change", function () {
    window.localStorage.setItem("shop-token", tokenInput.value.trim());
  });

  function show(text, kind) {
    message.textContent = text;
    message.className = kind;
    message.hidden = false;
  }

  function buttons() { return document.querySelectorAll("button.buy"); }

  function setBuying(enabled) {
    buttons().forEach(function (button) {
      var stock = button.parentElement.querySelector(".stock");
      var soldOut = Number(stock.dataset.stock) <= 0;
      button.disabled = !enabled || soldOut;
    });
  }

  function startCountdown(detail, seconds) {
    if (countdown) { clearInterval(countdown); }
    var left = Math.max(1, seconds);
    setBuying(false);
    var tick = function () {
      show(detail + " You can try again in " + left + " s.", "error");
      if (left <= 0) {
        clearInterval(countdown);
        countdown = null;
        message.hidden = true;
        setBuying(true);
      }
      left -= 1;
    };
    tick();
    countdown = setInterval(tick, 1000);
  }

  function newKey() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    return String(Date.now()) + "-" + Math.random().toString(16).slice(2);
  }

  function markSoldOut(item) {
    var stock = item.querySelector(".stock");
    stock.dataset.stock = "0";
    stock.textContent = "Sold out";
    item.querySelector("button.buy").disabled = true;
  }

  async function buy(button) {
    var item = button.closest(".product");
    var notice = item.querySelector(".notice");
    var method = document.querySelector("input[name=payment_method]:checked");
    notice.textContent = "";
    button.disabled = true;
    var response;
    try {
      response = await fetch("/flash/checkout", {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          "Authorization": "Bearer " + tokenInput.value.trim(),
          "Idempotency-Key": newKey()
        },
        body: JSON.stringify({
          sku: button.dataset.sku,
          quantity: 1,
          payment_method: method ? method.value : ""
        })
      });
    } catch (error) {
      show("System experiencing high traffic. Please try again shortly.", "error");
      button.disabled = false;
      return;
    }
    var body = {};
    try { body = await response.json(); } catch (error) { body = {}; }
    if (response.status === 201) {
      var stock = item.querySelector(".stock");
      var left = Math.max(0, Number(stock.dataset.stock) - body.quantity);
      stock.dataset.stock = String(left);
      stock.textContent = left > 0 ? left + " left" : "Sold out";
      show("Thank you! Order " + body.order_id + " is paid: " + body.amount + " " +
           body.currency + ".", "ok");
      button.disabled = left <= 0;
      return;
    }
    var detail = body.detail || "Something went wrong. Please try again shortly.";
    if (response.status === 429) {
      var wait = Number(response.headers.get("Retry-After") || body.retry_after || 60);
      startCountdown(detail, Math.ceil(wait));
      return;
    }
    if (response.status === 409 && body.code === "out_of_stock") {
      markSoldOut(item);
    } else {
      button.disabled = false;
    }
    notice.textContent = detail;
    show(detail, "error");
  }

  buttons().forEach(function (button) {
    button.addEventListener("click", function () { buy(button); });
  });
})();
