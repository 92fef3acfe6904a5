/* broadcaster: the little JavaScript the pages use. Every page works without it; it adds the
   live character count, spoken-length estimate and spoken form ("Máy sẽ đọc là"), adding a
   lexicon entry from the compose page without leaving it, "Nghe thử", the text/recording switch,
   the clusters' self-refresh and auto-submitting pickers. No inline scripts (the CSP forbids them). */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  /* POST a form-encoded body to one of our JSON endpoints; reject with the server's message. */
  function postJson(url, data) {
    var body = new URLSearchParams(data);
    body.set("csrf_token", csrfToken());
    return fetch(url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": csrfToken() }
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (json) {
        if (!response.ok) {
          var message = json && json.error ? json.error.message : "Máy chủ không trả lời (" + response.status + ").";
          throw new Error(message);
        }
        return json;
      });
    });
  }

  /* The same wording as the server's durations: "45 giây", "2 phút 05 giây". */
  function duration(seconds) {
    var total = Math.max(0, Math.round(seconds));
    var hours = Math.floor(total / 3600), minutes = Math.floor((total % 3600) / 60), secs = total % 60;
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    if (hours) { return hours + " giờ " + two(minutes) + " phút"; }
    if (minutes) { return minutes + " phút " + two(secs) + " giây"; }
    return secs + " giây";
  }

  function setupCompose(form) {
    var text = form.querySelector("#text");
    var chars = form.querySelector("#chars");
    var estimate = form.querySelector("#estimate");
    var meter = form.querySelector("#meter");
    var fit = form.querySelector("#fit");
    var repeat = form.querySelector("#repeat");
    var player = form.querySelector("#player");
    var audio = form.querySelector("#preview-audio");
    var shownDuration = form.querySelector("#preview-duration");
    var button = form.querySelector("#preview-button");
    var status = form.querySelector("#preview-status");
    var voice = form.querySelector("#voice");
    var spoken = form.querySelector("[data-spoken]");
    var commune = form.getAttribute("data-commune") || "";
    var lastEstimate = null;
    var timer = null;

    function showFit() {
      if (!fit || lastEstimate === null) { return; }
      var times = Math.max(1, parseInt(repeat && repeat.value, 10) || 1);
      var total = lastEstimate * times;
      estimate.textContent = duration(lastEstimate) + (times > 1 ? " × " + times + " lần = " + duration(total) : "");
      var room = meter && meter.dataset.roomS ? parseFloat(meter.dataset.roomS) : NaN;
      if (isNaN(room)) { fit.textContent = ""; return; }
      if (total <= room) {
        fit.className = "fit ok";
        fit.textContent = "Vừa buổi phát tới (" + meter.dataset.session + ").";
      } else {
        fit.className = "fit over";
        fit.textContent = "Dài hơn chỗ trống của buổi phát tới: bản tin có thể bị dời sang buổi sau.";
      }
    }

    function askEstimate() {
      if (!text.value.trim()) { lastEstimate = null; estimate.textContent = "—"; fit.textContent = ""; return; }
      postJson("/soan-tin/uoc-luong", { text: text.value, xa: commune }).then(function (answer) {
        lastEstimate = answer.estimate_s;
        showFit();
        if (spoken) { showSpoken(spoken, answer.segments, commune, askEstimate); }
      }).catch(function () { /* advice only: keep the last figure */ });
    }

    if (text) {
      text.addEventListener("input", function () {
        chars.textContent = text.value.length.toLocaleString("vi-VN");
        var max = parseInt(meter.dataset.maxChars, 10);
        chars.className = text.value.length > max ? "bad-text" : "";
        clearTimeout(timer);
        timer = setTimeout(askEstimate, 350);
      });
      if (repeat) { repeat.addEventListener("input", showFit); }
      if (text.value.trim()) { askEstimate(); }
    }

    function play(url, label) {
      player.hidden = false;
      shownDuration.textContent = label || "…";
      audio.src = url;
      audio.load();
    }

    if (audio) {
      audio.addEventListener("loadedmetadata", function () {
        if (isFinite(audio.duration)) { shownDuration.textContent = duration(audio.duration); }
      });
    }

    if (button) {
      button.addEventListener("click", function () {
        status.className = "hint";
        status.textContent = "Đang đọc thử…";
        button.disabled = true;
        var asked = { text: text.value, voice: voice ? voice.value : "", xa: commune };
        postJson("/soan-tin/nghe-thu", asked).then(function (answer) {
          status.textContent = "Bản nghe thử dài " + answer.duration + ", " + answer.voice_label + ".";
          if (answer.fallback) {
            status.className = "bad-text";
            status.textContent += " Giọng đã chọn không đọc được (" + answer.fallback + ").";
          }
          play(answer.url, answer.duration);
        }).catch(function (error) {
          status.className = "bad-text";
          status.textContent = error.message;
        }).then(function () { button.disabled = false; });
      });
    }


  }

  /* The commune's voice settings: "Nghe thử" reads a sample sentence in the chosen voice and rate. */
  function setupVoiceSettings(form) {
    var button = form.querySelector("#voice-preview");
    var status = form.querySelector("#voice-preview-status");
    var audio = form.querySelector("#voice-preview-audio");
    button.addEventListener("click", function () {
      status.className = "hint";
      status.textContent = "Đang đọc thử…";
      button.disabled = true;
      postJson("/soan-tin/nghe-thu", {
        text: form.querySelector("#sample-text").value, voice: form.querySelector("#voice").value,
        rate: form.querySelector("#rate").value, xa: form.dataset.commune || ""
      }).then(function (answer) {
        status.textContent = "Bản nghe thử dài " + answer.duration + ", " + answer.voice_label + ".";
        if (answer.fallback) {
          status.className = "bad-text";
          status.textContent += " Giọng đã chọn không đọc được (" + answer.fallback + ").";
        }
        audio.hidden = false;
        audio.src = answer.url;
        audio.load();
      }).catch(function (error) {
        status.className = "bad-text";
        status.textContent = error.message;
      }).then(function () { button.disabled = false; });
    });
  }

  /* Text or recording: show only the chosen part of the form. */
  function setupModes(form) {
    var modes = form.querySelectorAll('input[name="mode"]');
    var player = form.querySelector("[data-player]");
    var audio = form.querySelector("audio[data-listen]");
    function showMode() {
      var chosen = form.querySelector('input[name="mode"]:checked');
      var mode = chosen ? chosen.value : "text";
      form.querySelectorAll("[data-mode-section]").forEach(function (section) {
        section.hidden = section.getAttribute("data-mode-section") !== mode;
      });
      if (player && mode === "text" && audio && audio.src.indexOf("blob:") === 0) { player.hidden = true; }
    }
    modes.forEach(function (radio) { radio.addEventListener("change", showMode); });
    if (modes.length) { showMode(); }
  }

  /* Record with the microphone; the recording becomes the form's "recording" file, so the form
     submits it through the same upload path as a chosen file. */
  function setupRecorder(box) {
    var form = box.closest("form");
    var input = form.querySelector('input[type="file"][name="recording"]');
    var start = box.querySelector("[data-record]");
    var stop = box.querySelector("[data-stop]");
    var status = box.querySelector("[data-record-status]");
    var audio = form.querySelector("audio[data-listen]");
    var player = audio ? audio.closest("[data-player]") : null;
    var recorder = null, chunks = [], started = 0, ticker = null;
    /* Listen back to what will be sent: a recording just made, or a file just chosen. */
    input.addEventListener("change", function () {
      if (!audio || !input.files || !input.files[0]) { return; }
      if (player) { player.hidden = false; }
      audio.src = URL.createObjectURL(input.files[0]);
      audio.load();
    });
    if (!navigator.mediaDevices || !window.MediaRecorder || !window.DataTransfer) {
      start.disabled = true;
      status.textContent = "Trình duyệt này không ghi âm được (cần trang HTTPS); hãy chọn tệp ghi âm.";
      return;
    }
    function kind() {
      var wanted = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4"];
      for (var i = 0; i < wanted.length; i++) { if (MediaRecorder.isTypeSupported(wanted[i])) { return wanted[i]; } }
      return "";
    }
    function two(n) { return (n < 10 ? "0" : "") + n; }
    start.addEventListener("click", function () {
      status.textContent = "Đang xin quyền dùng micrô…";
      navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
        var type = kind();
        recorder = type ? new MediaRecorder(stream, { mimeType: type }) : new MediaRecorder(stream);
        chunks = [];
        recorder.addEventListener("dataavailable", function (event) { if (event.data.size) { chunks.push(event.data); } });
        recorder.addEventListener("stop", function () {
          stream.getTracks().forEach(function (track) { track.stop(); });
          clearInterval(ticker);
          var mime = recorder.mimeType || "audio/webm";
          var extension = mime.indexOf("ogg") >= 0 ? "ogg" : (mime.indexOf("mp4") >= 0 ? "m4a" : "webm");
          var now = new Date();
          var name = "ghi-am-" + now.getFullYear() + two(now.getMonth() + 1) + two(now.getDate()) + "-" +
            two(now.getHours()) + two(now.getMinutes()) + "." + extension;
          var file = new File(chunks, name, { type: mime.split(";")[0] });
          var transfer = new DataTransfer();
          transfer.items.add(file);
          input.files = transfer.files;
          input.dispatchEvent(new Event("change", { bubbles: true }));
          var seconds = Math.round((Date.now() - started) / 1000);
          status.textContent = "Đã ghi " + duration(seconds) + ". Bấm ▶ để nghe lại.";
          start.hidden = false; stop.hidden = true; start.textContent = "● Ghi lại";
          if (audio) { audio.focus(); }
        });
        recorder.start(250);
        started = Date.now();
        start.hidden = true; stop.hidden = false; stop.focus();
        status.textContent = "Đang ghi… 0 giây";
        ticker = setInterval(function () {
          status.textContent = "Đang ghi… " + duration((Date.now() - started) / 1000);
        }, 500);
      }).catch(function () {
        status.textContent = "Không dùng được micrô: hãy cho phép trình duyệt dùng micrô, hoặc chọn tệp ghi âm.";
      });
    });
    stop.addEventListener("click", function () { if (recorder && recorder.state !== "inactive") { recorder.stop(); } });
  }

  function element(tag, className, textContent) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (textContent !== undefined) { node.textContent = textContent; }
    return node;
  }

  /* "Máy sẽ đọc là": the spoken form with its guesses marked, and for each spelled acronym a small
     form that adds it to the commune's lexicon and reads the text again. Text only, never HTML. */
  function showSpoken(box, segments, commune, refresh) {
    var line = box.querySelector("[data-spoken-text]");
    var list = box.querySelector("[data-unsure-list]");
    line.textContent = "";
    list.textContent = "";
    if (!segments || !segments.length) { line.textContent = "—"; return; }
    var unsure = [];
    segments.forEach(function (segment) {
      if (!segment.unsure) { line.appendChild(document.createTextNode(segment.text)); return; }
      var mark = element("mark", "unsure", segment.text);
      mark.title = segment.unsure.reason;
      line.appendChild(mark);
      unsure.push(segment);
    });
    if (!unsure.length) { return; }
    list.appendChild(element("p", "hint",
      "Chỗ tô màu là chỗ máy không chắc: hãy nghe thử; nếu đọc sai, thêm vào từ điển của xã hoặc sửa văn bản."));
    var items = element("ul", "unsure-list");
    unsure.forEach(function (segment) {
      var item = element("li");
      item.appendChild(element("span", "", "“" + segment.unsure.written + "” → “" + segment.text + "”: " + segment.unsure.reason + ". "));
      if (segment.unsure.spelled) {
        item.appendChild(addEntryControl(segment.unsure.written, segment.text, commune, refresh));
      } else {
        item.appendChild(element("span", "hint", "Nếu máy đoán sai, hãy viết rõ hơn (ví dụ «ngày 15/12» hay «15 trên 12»)."));
      }
      items.appendChild(item);
    });
    list.appendChild(items);
  }

  function addEntryControl(written, reading, commune, refresh) {
    var holder = element("span", "add-entry");
    var open = element("button", "btn small", "+ Thêm «" + written + "» vào từ điển");
    open.type = "button";
    holder.appendChild(open);
    open.addEventListener("click", function () {
      open.hidden = true;
      var row = element("span", "inline-form");
      var label = element("label", "", "«" + written + "» đọc là ");
      var input = element("input");
      input.name = "spoken";
      input.maxLength = 400;
      input.value = reading;
      label.appendChild(input);
      var save = element("button", "btn small primary", "Lưu vào từ điển");
      save.type = "button";
      var status = element("span", "hint");
      status.setAttribute("aria-live", "polite");
      row.appendChild(label);
      row.appendChild(save);
      row.appendChild(status);
      holder.appendChild(row);
      input.focus();
      save.addEventListener("click", function () {
        save.disabled = true;
        postJson("/tu-dien/them", { written: written, spoken: input.value, xa: commune }).then(function () {
          status.className = "hint";
          status.textContent = "Đã thêm vào từ điển.";
          refresh();
        }).catch(function (error) {
          status.className = "bad-text";
          status.textContent = error.message;
          save.disabled = false;
        });
      });
    });
    return holder;
  }

  /* The lexicon page: hear a reading before saving it. */
  function setupLexicon(button) {
    var reading = document.getElementById("lexicon-spoken");
    var audio = document.getElementById("lexicon-audio");
    var status = document.getElementById("lexicon-listen-status");
    button.addEventListener("click", function () {
      if (!reading.value.trim()) { status.className = "bad-text"; status.textContent = "Hãy nhập cách đọc."; return; }
      button.disabled = true;
      status.className = "hint";
      status.textContent = "Đang đọc thử…";
      postJson("/tu-dien/nghe-thu", { spoken: reading.value, xa: button.getAttribute("data-commune") }).then(function (answer) {
        status.textContent = "Bản nghe thử dài " + answer.duration + ".";
        audio.hidden = false;
        audio.src = answer.url;
        audio.load();
        audio.play().catch(function () { /* the browser may wait for a click on the player */ });
      }).catch(function (error) {
        status.className = "bad-text";
        status.textContent = error.message;
      }).then(function () { button.disabled = false; });
    });
  }

  function setupRefresh(container) {
    var url = container.getAttribute("data-refresh-url");
    var every = (parseInt(container.getAttribute("data-refresh-s"), 10) || 10) * 1000;
    setInterval(function () {
      if (document.hidden) { return; }
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } }).then(function (response) {
        if (response.redirected) { window.location.reload(); return; }  /* the session ended */
        if (response.ok) {
          return response.text().then(function (html) { container.innerHTML = html; });
        }
      }).catch(function () { /* offline for a moment: try again next time */ });
    }, every);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var compose = document.getElementById("compose");
    if (compose) { setupCompose(compose); }
    var voiceSettings = document.getElementById("voice-settings");
    if (voiceSettings) { setupVoiceSettings(voiceSettings); }
    document.querySelectorAll("[data-recorder]").forEach(setupRecorder);
    document.querySelectorAll("form[data-modes]").forEach(setupModes);
    var listen = document.getElementById("lexicon-listen");
    if (listen) { setupLexicon(listen); }
    var live = document.querySelector("[data-refresh-url]");
    if (live) { setupRefresh(live); }
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
    document.querySelectorAll("a[data-back]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        if (window.history.length > 1) { event.preventDefault(); window.history.back(); }
      });
    });
  });
}());
