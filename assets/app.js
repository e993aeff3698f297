/*
 * Mewayz Alpine components (for the CSP build of Alpine: @alpinejs/csp).
 *
 * The site sends a strict Content-Security-Policy (per-response nonce, no 'unsafe-eval'),
 * so templates must NOT use inline object literals in x-data. Register every component
 * here with Alpine.data() and reference it by name: x-data="navMenu".
 * Event handlers should name a method: @click="toggle" (the event is passed as argument).
 *
 * Load order: this file is included BEFORE alpine.js (both `defer`, so they run in
 * document order). Alpine's CDN build starts itself and fires `alpine:init`, which is
 * when these components are registered. Do not call Alpine.start() here.
 */
(function () {
  'use strict';

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute('content') : '';
  }

  function visitorZone() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || '';
    } catch (e) {
      return '';
    }
  }

  // Remember the visitor's time zone, so pages can show and read times in it (/social).
  (function rememberZone() {
    var zone = visitorZone();
    if (zone) {
      document.cookie = 'mw_tz=' + encodeURIComponent(zone) + '; path=/; max-age=31536000; samesite=lax';
    }
  })();

  // A uPlot chart inside `el`, from the JSON <script> block named by its data-source.
  // build(data, axis) returns {opts, columns} (opts without width and height); the chart is
  // drawn once uplot.js has run (it loads after Alpine starts) and follows the window's width.
  function mountChart(el, height, build) {
    var axis = { stroke: '#94a3b8', grid: { stroke: '#1e293b' }, ticks: { stroke: '#334155' } };
    var size = function () {
      return { width: Math.max(280, el.clientWidth), height: height };
    };
    var draw = function () {
      var source = document.getElementById(el.getAttribute('data-source'));
      if (!source || !window.uPlot || el.getAttribute('data-drawn')) {
        return;
      }
      el.setAttribute('data-drawn', '1');
      var built = build(JSON.parse(source.textContent), axis);
      var chart = new window.uPlot(Object.assign(size(), built.opts), built.columns, el);
      window.addEventListener('resize', function () {
        chart.setSize(size());
      });
    };
    if (document.readyState === 'loading') {
      document.addEventListener('DOMContentLoaded', draw);
    } else {
      draw();
      window.addEventListener('load', draw);
    }
  }

  // UTC times on a uPlot time axis.
  function utcDate(ts) {
    return window.uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC');
  }

  function register(Alpine) {
    // Mobile navigation menu: <div x-data="navMenu"> <button @click="toggle" :aria-expanded="open">
    Alpine.data('navMenu', function () {
      return {
        open: false,
        // For x-show="closed" (keeps template expressions to plain property names).
        get closed() {
          return !this.open;
        },
        toggle: function () {
          this.open = !this.open;
        },
        close: function () {
          this.open = false;
        },
        // Close when the viewport grows past the mobile breakpoint (menu is hidden there).
        onResize: function () {
          if (window.matchMedia('(min-width: 1024px)').matches) {
            this.open = false;
          }
        },
      };
    });

    // Generic disclosure (dropdowns, "show more"): same API as navMenu.
    Alpine.data('disclosure', function () {
      return {
        open: false,
        get closed() {
          return !this.open;
        },
        toggle: function () {
          this.open = !this.open;
        },
        close: function () {
          this.open = false;
        },
      };
    });

    // Dismissible flash message / alert: <div x-data="dismissible" x-show="visible">
    // <button @click="dismiss">
    Alpine.data('dismissible', function () {
      return {
        visible: true,
        dismiss: function () {
          this.visible = false;
        },
      };
    });

    // Ask before submitting a destructive form:
    // <form method="post" x-data="confirmSubmit" data-confirm="Delete this site?" @submit="ask">
    Alpine.data('confirmSubmit', function () {
      return {
        ask: function (event) {
          var form = event && event.target && event.target.closest
            ? event.target.closest('form')
            : null;
          var message = (form && form.getAttribute('data-confirm')) || 'Are you sure?';
          if (!window.confirm(message)) {
            event.preventDefault();
          }
        },
      };
    });

    // Copy a value to the clipboard (API tokens, site URLs):
    // <div x-data="clipboard" data-copy="secret"> <button type="button" @click="copy">
    //   <span x-text="label">Copy</span></button></div>
    Alpine.data('clipboard', function () {
      return {
        copied: false,
        label: 'Copy',
        copy: function (event) {
          var self = this;
          var holder = event && event.currentTarget && event.currentTarget.closest
            ? event.currentTarget.closest('[data-copy]')
            : null;
          var text = holder ? holder.getAttribute('data-copy') : '';
          var done = function () {
            self.copied = true;
            self.label = 'Copied';
            window.setTimeout(function () {
              self.copied = false;
              self.label = 'Copy';
            }, 2000);
          };
          var legacy = function () {
            // Fallback for plain-http pages or when the Clipboard API is refused.
            var area = document.createElement('textarea');
            area.value = text;
            area.setAttribute('readonly', '');
            area.className = 'sr-only';
            document.body.appendChild(area);
            area.select();
            var ok = false;
            try {
              ok = document.execCommand('copy');
            } catch (e) {
              ok = false;
            }
            document.body.removeChild(area);
            if (ok) {
              done();
            } else {
              self.label = 'Copy failed';
            }
          };
          if (navigator.clipboard && window.isSecureContext) {
            navigator.clipboard.writeText(text).then(done, legacy);
          } else {
            legacy();
          }
        },
      };
    });

    // ---- social (/social) ------------------------------------------------------------

    // "Connect Instagram" / "Reconnect": asks the app for an authorization URL (POST with the
    // CSRF token), then navigates there. A form POST answered by a redirect to Instagram
    // would be blocked by the page's CSP (form-action 'self' covers redirects).
    // <div x-data="instagramConnect"><button @click="connect" :disabled="busy">
    Alpine.data('instagramConnect', function () {
      return {
        busy: false,
        failed: false,
        message: '',
        connect: function () {
          var self = this;
          self.busy = true;
          self.failed = false;
          fetch('/social/connect', {
            method: 'POST',
            credentials: 'same-origin',
            headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRF-Token': csrfToken() },
            body: '{}',
          })
            .then(function (r) {
              return r.json().then(function (body) {
                return { ok: r.ok, body: body };
              });
            })
            .then(function (res) {
              if (res.ok && res.body.url) {
                window.location.assign(res.body.url);
                return;
              }
              self.failed = true;
              self.message = (res.body.error && res.body.error.message) || 'Could not start connecting. Try again.';
              self.busy = false;
            })
            .catch(function () {
              self.failed = true;
              self.message = 'Could not reach Mewayz. Check your connection and try again.';
              self.busy = false;
            });
        },
      };
    });

    // The post composer: live caption counters, JPEG upload with preview, the visitor's zone.
    // <form x-data="socialComposer" data-caption-max="2200" data-hashtags-max="30">
    Alpine.data('socialComposer', function () {
      return {
        chars: 0,
        tags: 0,
        captionMax: 2200,
        tagsMax: 30,
        preview: '',
        uploadStatus: '',
        get hasPreview() {
          return this.preview !== '';
        },
        get charsLabel() {
          return this.chars.toLocaleString('en') + ' / ' + this.captionMax.toLocaleString('en') + ' characters';
        },
        get tagsLabel() {
          return this.tags + ' / ' + this.tagsMax + ' hashtags';
        },
        get charsClass() {
          return this.chars > this.captionMax ? 'font-semibold text-rose-300' : '';
        },
        get tagsClass() {
          return this.tags > this.tagsMax ? 'font-semibold text-rose-300' : '';
        },
        init: function () {
          this.captionMax = parseInt(this.$el.getAttribute('data-caption-max'), 10) || 2200;
          this.tagsMax = parseInt(this.$el.getAttribute('data-hashtags-max'), 10) || 30;
          var zone = visitorZone();
          if (zone && this.$refs.zone) {
            this.$refs.zone.value = zone;
          }
          this.count();
        },
        count: function () {
          var text = this.$refs.caption ? this.$refs.caption.value.trim() : '';
          this.chars = Array.from(text).length;
          var found = text.match(/#[\p{L}\p{N}_]+/gu);
          this.tags = found ? found.length : 0;
        },
        pick: function (event) {
          var self = this;
          var file = event && event.target && event.target.files ? event.target.files[0] : null;
          if (!file) {
            return;
          }
          if (file.type !== 'image/jpeg') {
            self.uploadStatus = 'Choose a JPEG image (.jpg): Instagram publishes JPEG only.';
            return;
          }
          if (file.size > 8 * 1024 * 1024) {
            self.uploadStatus = 'This image is larger than 8 MB, the most Instagram takes.';
            return;
          }
          var reader = new FileReader();
          reader.onload = function () {
            self.preview = String(reader.result || '');
          };
          reader.readAsDataURL(file); // a data: URL: the CSP allows data: images, not blob:
          self.uploadStatus = 'Uploading…';
          fetch('/social/uploads', {
            method: 'POST',
            credentials: 'same-origin',
            headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRF-Token': csrfToken() },
            body: JSON.stringify({ content_type: 'image/jpeg', size: file.size }),
          })
            .then(function (r) {
              if (!r.ok) {
                throw new Error('ticket');
              }
              return r.json();
            })
            .then(function (ticket) {
              return fetch(ticket.upload_url, { method: ticket.method, headers: ticket.headers, body: file }).then(
                function (r) {
                  if (!r.ok) {
                    throw new Error('upload');
                  }
                  if (self.$refs.imageUrl) {
                    self.$refs.imageUrl.value = ticket.image_url;
                  }
                  self.uploadStatus = 'Uploaded: Instagram will fetch it from the address below.';
                }
              );
            })
            .catch(function () {
              self.uploadStatus = 'The upload failed. Try again, or paste the https address of a JPEG below.';
            });
        },
      };
    });

    // Followers, reach and views by day, drawn with uPlot from a JSON <script> block:
    // <script type="application/json" id="social-chart-data">…</script>
    // <div x-data="socialChart" data-source="social-chart-data"></div>
    Alpine.data('socialChart', function () {
      return {
        init: function () {
          mountChart(this.$el, 280, function (data, axis) {
            var xs = data.dates.map(function (d) {
              return Date.parse(d + 'T00:00:00Z') / 1000;
            });
            // Only the series that have data (views come from daily snapshots and may not yet).
            var lines = [
              { key: 'reach', series: { label: 'Reach', stroke: '#818cf8', width: 2, scale: 'n', spanGaps: true } },
              { key: 'views', series: { label: 'Views', stroke: '#f472b6', width: 2, scale: 'n', spanGaps: true } },
              { key: 'followers', series: { label: 'Followers', stroke: '#34d399', width: 2, scale: 'f', spanGaps: true, points: { show: true, size: 6 } } },
            ].filter(function (line) {
              return (data[line.key] || []).some(function (v) {
                return v !== null;
              });
            });
            var usesFollowers = lines.some(function (line) {
              return line.key === 'followers';
            });
            var axes = [axis, Object.assign({ scale: 'n' }, axis)];
            if (usesFollowers) {
              axes.push({ scale: 'f', side: 1, stroke: '#94a3b8', grid: { show: false } });
            }
            return {
              opts: {
                tzDate: utcDate,
                scales: { x: { time: true } },
                series: [{}].concat(lines.map(function (line) { return line.series; })),
                axes: axes,
              },
              columns: [xs].concat(lines.map(function (line) { return data[line.key]; })),
            };
          });
        },
      };
    });

    // Billing period switch on /billing: <section x-data="billingIntervals"> with buttons
    // @click="showMonth|showYear|showPass" and groups x-show="isMonth|isYear|isPass".
    // Without JavaScript every group stays visible.
    Alpine.data('billingIntervals', function () {
      var active = 'btn-primary';
      var idle = 'btn-ghost';
      return {
        interval: 'month',
        get isMonth() { return this.interval === 'month'; },
        get isYear() { return this.interval === 'year'; },
        get isPass() { return this.interval === 'pass'; },
        get monthClass() { return this.isMonth ? active : idle; },
        get yearClass() { return this.isYear ? active : idle; },
        get passClass() { return this.isPass ? active : idle; },
        get monthPressed() { return this.isMonth ? 'true' : 'false'; },
        get yearPressed() { return this.isYear ? 'true' : 'false'; },
        get passPressed() { return this.isPass ? 'true' : 'false'; },
        showMonth: function () { this.interval = 'month'; },
        showYear: function () { this.interval = 'year'; },
        showPass: function () { this.interval = 'pass'; },
      };
    });

    // Reload the page a few times while something finishes elsewhere (a payment being
    // confirmed by its webhook): <div x-data="autoRefresh" data-refresh-ms="1500"
    // data-max-refreshes="20">. Counts per address in sessionStorage, so it stops.
    Alpine.data('autoRefresh', function () {
      return {
        init: function () {
          var el = this.$el;
          var wait = parseInt(el.getAttribute('data-refresh-ms') || '2000', 10);
          var max = parseInt(el.getAttribute('data-max-refreshes') || '10', 10);
          var key = 'mewayz:refreshes:' + window.location.pathname + window.location.search;
          var done = 0;
          try { done = parseInt(window.sessionStorage.getItem(key) || '0', 10); } catch (e) { done = max; }
          if (done >= max) { return; }
          window.setTimeout(function () {
            try { window.sessionStorage.setItem(key, String(done + 1)); } catch (e) { /* private mode */ }
            window.location.reload();
          }, wait);
        },
      };
    });

    // ---- sites -------------------------------------------------------------------------

    function csrfToken() {
      var meta = document.querySelector('meta[name="csrf-token"]');
      return meta ? meta.getAttribute('content') : '';
    }

    function sendJson(method, url, body) {
      var options = {
        method: method,
        credentials: 'same-origin',
        headers: { Accept: 'application/json', 'X-CSRF-Token': csrfToken() },
      };
      if (body !== undefined) {
        options.headers['Content-Type'] = 'application/json';
        options.body = JSON.stringify(body);
      }
      return fetch(url, options).then(function (response) {
        return response.json().then(function (data) {
          return { ok: response.ok, status: response.status, data: data };
        });
      });
    }

    function errorText(data) {
      if (!data || !data.error) {
        return 'Something went wrong. Try again.';
      }
      var fields = data.error.fields || {};
      var keys = Object.keys(fields);
      if (keys.length) {
        return keys[0] + ': ' + fields[keys[0]][0];
      }
      return data.error.message;
    }

    // The wizard's live handle check: <section x-data="domainCheck"> with an input x-ref="handle".
    Alpine.data('domainCheck', function () {
      return {
        message: '',
        available: false,
        unavailable: false,
        get messageClass() {
          return this.available ? 'text-emerald-300' : 'text-rose-300';
        },
        check: function () {
          var self = this;
          var value = this.$refs.handle ? this.$refs.handle.value.trim() : '';
          if (!value) {
            self.message = '';
            self.available = self.unavailable = false;
            return;
          }
          fetch('/sites/check-domain?domain=' + encodeURIComponent(value), {
            credentials: 'same-origin',
            headers: { Accept: 'application/json' },
          })
            .then(function (r) { return r.json(); })
            .then(function (data) {
              self.message = data.message;
              self.available = !!data.available;
              self.unavailable = !data.available;
            });
        },
      };
    });

    var DEFAULTS = {
      link: function () { return { label: 'New link', url: 'https://' }; },
      heading: function () { return { text: 'A heading' }; },
      text: function () { return { markdown: 'Some words about you.' }; },
      image: function () { return { url: 'https://', alt: '' }; },
      social: function () { return { links: [{ network: 'instagram', url: 'https://instagram.com/' }] }; },
      embed: function () { return { url: 'https://www.youtube.com/watch?v=' }; },
      form: function () { return { kind: 'contact', title: 'Get in touch', button_label: 'Send' }; },
      pay: function () { return { title: 'A product', description: '', price: { amount: 1000, currency: 'usd' } }; },
      faq: function () { return { items: [{ question: 'A question?', answer: 'The answer.' }] }; },
      divider: function () { return {}; },
    };
    var nextKey = 1;

    function toLocal(iso) {
      // "2026-05-01T09:00:00Z" -> "2026-05-01T09:00" (shown and edited in UTC)
      return iso ? String(iso).slice(0, 16) : '';
    }

    function fromLocal(value) {
      return value ? value + ':00Z' : null;
    }

    // The site editor: blocks of one page, reordered by drag or keyboard, saved in one
    // request, previewed with the real template, published with a progress bar.
    Alpine.data('siteEditor', function () {
      return {
        siteId: null,
        pageId: null,
        blocks: [],
        blockTypes: [],
        networks: [],
        currencies: [],
        open: {},
        dragging: null,
        over: null,
        saving: false,
        dirty: false,
        saveLabel: 'Saved',
        error: '',
        announcement: '',
        publishing: false,
        publishStatus: '',
        publishError: '',
        published: false,
        progressDone: 0,
        progressTotal: 1,
        previewTimer: null,

        init: function () {
          var holder = document.getElementById('editor-state');
          var state = holder ? JSON.parse(holder.textContent) : { pages: [] };
          this.siteId = state.site ? state.site.id : null;
          this.pageId = state.current_page_id;
          this.blockTypes = state.block_types || [];
          this.networks = state.networks || [];
          this.currencies = state.currencies || [];
          var self = this;
          var page = (state.pages || []).filter(function (p) { return p.id === self.pageId; })[0];
          this.blocks = page ? page.blocks.map(function (b) { return self.wrap(b); }) : [];
          this.$watch('blocks', function () {
            self.dirty = true;
            self.saveLabel = 'Unsaved changes';
            self.schedulePreview();
          });
          this.refreshPreview();
        },

        wrap: function (block) {
          var copy = JSON.parse(JSON.stringify(block));
          copy.key = 'b' + nextKey++;
          copy.starts_local = toLocal(copy.starts_at);
          copy.ends_local = toLocal(copy.ends_at);
          if (copy.type === 'pay' && !copy.price) {
            copy.price = { amount: 1000, currency: 'usd' };
          }
          return copy;
        },

        payload: function () {
          return this.blocks.map(function (b) {
            var out = {};
            Object.keys(b).forEach(function (k) {
              if (k !== 'key' && k !== 'starts_local' && k !== 'ends_local' && k !== 'starts_at' && k !== 'ends_at') {
                out[k] = b[k];
              }
            });
            if (b.starts_local) { out.starts_at = fromLocal(b.starts_local); }
            if (b.ends_local) { out.ends_at = fromLocal(b.ends_local); }
            return out;
          });
        },

        get empty() { return this.blocks.length === 0; },

        typeLabel: function (block) {
          var found = this.blockTypes.filter(function (t) { return t.type === block.type; })[0];
          return found ? found.label : block.type;
        },
        summary: function (block) {
          return block.label || block.text || block.title || block.url || (block.markdown || '').slice(0, 80) || '';
        },
        addLabel: function (t) { return '+ ' + t.label; },
        fieldId: function (block, name) { return 'f-' + block.key + '-' + name; },
        itemId: function (block, i, name) { return 'f-' + block.key + '-' + i + '-' + name; },
        isOpen: function (block) { return !!this.open[block.key]; },
        editLabel: function (block) { return this.open[block.key] ? 'Close' : 'Edit'; },
        toggle: function (index) {
          var key = this.blocks[index].key;
          this.open[key] = !this.open[key];
        },
        isFirst: function (index) { return index === 0; },
        isLast: function (index) { return index === this.blocks.length - 1; },
        position: function (index) { return (index + 1) + ' of ' + this.blocks.length; },
        handleLabel: function (index) {
          return 'Reorder ' + this.typeLabel(this.blocks[index]) + ', position ' + this.position(index) +
            '. Drag, or press the up and down arrow keys.';
        },
        moveLabel: function (index, direction) {
          return 'Move ' + this.typeLabel(this.blocks[index]) + ' ' + direction;
        },
        removeLabel: function (index) { return 'Delete ' + this.typeLabel(this.blocks[index]); },
        rowClass: function (index) {
          if (this.dragging === index) { return 'opacity-50'; }
          return this.over === index ? 'ring-2 ring-indigo-400' : '';
        },

        move: function (from, to) {
          if (to < 0 || to >= this.blocks.length || from === to) { return; }
          var moved = this.blocks.splice(from, 1)[0];
          this.blocks.splice(to, 0, moved);
          this.announcement = this.typeLabel(moved) + ' moved to position ' + this.position(to) + '.';
          var self = this;
          this.$nextTick(function () {
            var handles = self.$root.querySelectorAll('[draggable] > div > button:first-child');
            if (handles[to]) { handles[to].focus(); }
          });
        },
        moveUp: function (index) { this.move(index, index - 1); },
        moveDown: function (index) { this.move(index, index + 1); },
        dragStart: function (index) { this.dragging = index; },
        dragOver: function (index) { this.over = index; },
        drop: function (index) {
          if (this.dragging !== null) { this.move(this.dragging, index); }
          this.dragEnd();
        },
        dragEnd: function () { this.dragging = null; this.over = null; },

        add: function (type) {
          var block = DEFAULTS[type] ? DEFAULTS[type]() : {};
          block.type = type;
          block.visible = true;
          var wrapped = this.wrap(block);
          this.blocks.push(wrapped);
          this.open[wrapped.key] = true;
          this.announcement = this.typeLabel(wrapped) + ' added at the end.';
        },
        remove: function (index) {
          var gone = this.blocks.splice(index, 1)[0];
          this.announcement = this.typeLabel(gone) + ' deleted.';
        },
        addSocial: function (block) { block.links.push({ network: 'instagram', url: 'https://' }); },
        addQuestion: function (block) { block.items.push({ question: '', answer: '' }); },
        removeItem: function (block, field, i) { block[field].splice(i, 1); },

        save: function () {
          var self = this;
          self.saving = true;
          self.error = '';
          self.saveLabel = 'Saving…';
          return sendJson('POST', '/sites/' + self.siteId + '/pages/' + self.pageId + '/save', { blocks: self.payload() })
            .then(function (result) {
              self.saving = false;
              if (!result.ok) {
                self.error = errorText(result.data);
                self.saveLabel = 'Not saved';
                return false;
              }
              var open = self.open;
              var keys = self.blocks.map(function (b) { return b.key; });
              self.blocks = result.data.blocks.map(function (b, i) {
                var wrapped = self.wrap(b);
                if (keys[i] && open[keys[i]]) { self.open[wrapped.key] = true; }
                return wrapped;
              });
              self.$nextTick(function () {
                self.dirty = false;
                self.saveLabel = 'Saved';
              });
              return true;
            })
            .catch(function () {
              self.saving = false;
              self.saveLabel = 'Not saved';
              self.error = 'The connection failed. Your changes are still here; try again.';
              return false;
            });
        },

        schedulePreview: function () {
          var self = this;
          if (self.previewTimer) { window.clearTimeout(self.previewTimer); }
          self.previewTimer = window.setTimeout(function () { self.refreshPreview(); }, 400);
        },
        refreshPreview: function () {
          if (!this.$refs.previewForm) { return; }
          this.$refs.draft.value = JSON.stringify({ blocks: this.payload() });
          this.$refs.previewForm.submit();
        },

        get publishLabel() {
          if (this.publishError) { return 'Publishing failed'; }
          if (this.published) { return 'Published: your site is live.'; }
          return 'Publishing… ' + this.progressDone + ' of ' + this.progressTotal + ' pages';
        },
        publish: function () {
          var self = this;
          var start = self.dirty ? self.save() : Promise.resolve(true);
          start.then(function (saved) {
            if (!saved) { return; }
            self.publishing = true;
            self.published = false;
            self.publishError = '';
            self.publishStatus = 'queued';
            self.progressDone = 0;
            self.progressTotal = 1;
            sendJson('POST', '/sites/' + self.siteId + '/publish', {}).then(function (result) {
              if (!result.ok) {
                self.publishing = false;
                self.publishError = errorText(result.data);
                return;
              }
              self.poll(result.data.id);
            });
          });
        },
        poll: function (deploymentId) {
          var self = this;
          sendJson('GET', '/sites/' + self.siteId + '/deployments/' + deploymentId + '/status').then(function (result) {
            var d = result.data;
            if (!result.ok) {
              self.publishing = false;
              self.publishError = errorText(d);
              return;
            }
            self.publishStatus = d.status;
            self.progressTotal = Math.max(d.progress.total, 1);
            self.progressDone = d.progress.done;
            if (d.status === 'live') {
              self.publishing = false;
              self.published = true;
              self.progressDone = self.progressTotal;
            } else if (d.status === 'failed' || d.status === 'superseded') {
              self.publishing = false;
              self.publishError = d.error || 'Publishing failed.';
            } else {
              window.setTimeout(function () { self.poll(deploymentId); }, 400);
            }
          });
        },
      };
    });

    // Analytics: visitors and pageviews with the previous period dashed, drawn with uPlot
    // from a JSON <script> block: <div x-data="analyticsChart" data-source="…-data"></div>
    Alpine.data('analyticsChart', function () {
      return {
        init: function () {
          mountChart(this.$el, 280, function (data, axis) {
            var hourly = data.granularity === 'hour';
            var xs = data.t.map(function (t) {
              return Date.parse(hourly ? t : t + 'T00:00:00Z') / 1000;
            });
            var fit = function (values) {
              return xs.map(function (_x, i) { return i < values.length ? values[i] : null; });
            };
            return {
              opts: {
                tzDate: utcDate,
                scales: { x: { time: true } },
                series: [
                  {},
                  { label: 'Visitors', stroke: '#818cf8', width: 2, fill: 'rgba(129,140,248,0.12)' },
                  { label: 'Pageviews', stroke: '#34d399', width: 2 },
                  { label: 'Visitors (previous)', stroke: '#818cf8', width: 1.5, dash: [6, 5] },
                  { label: 'Pageviews (previous)', stroke: '#34d399', width: 1.5, dash: [6, 5] },
                ],
                axes: [axis, axis],
              },
              columns: [xs, data.visitors, data.pageviews, fit(data.previous_visitors), fit(data.previous_pageviews)],
            };
          });
        },
      };
    });

    // Realtime visitors on an analytics page: polls data-url (JSON {visitors, pageviews})
    // every 15 s while the page is visible.
    Alpine.data('realtimeVisitors', function () {
      return {
        visitors: 0,
        get visitorsLabel() { return this.visitors === 1 ? 'visitor' : 'visitors'; },
        init: function () {
          var self = this;
          var url = this.$el.getAttribute('data-url');
          var first = this.$el.querySelector('strong');
          self.visitors = first ? parseInt(first.textContent, 10) || 0 : 0;
          var poll = function () {
            if (document.visibilityState !== 'visible') {
              return;
            }
            fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
              .then(function (r) { return r.ok ? r.json() : null; })
              .then(function (d) { if (d) { self.visitors = d.visitors; } })
              .catch(function () {});
          };
          window.setInterval(poll, 15000);
        },
      };
    });

    // ---- email -------------------------------------------------------------------------

    // The campaign editor: on input, copy the draft into the hidden preview form (debounced)
    // and submit it into the sandboxed preview frame. <div x-data="campaignEditor">.
    Alpine.data('campaignEditor', function () {
      return {
        timer: null,
        init: function () {
          var self = this;
          window.setTimeout(function () { self.refreshPreview(); }, 50);
        },
        schedulePreview: function () {
          var self = this;
          if (self.timer) { window.clearTimeout(self.timer); }
          self.timer = window.setTimeout(function () { self.refreshPreview(); }, 400);
        },
        refreshPreview: function () {
          var form = this.$refs.editForm;
          var preview = this.$refs.previewForm;
          if (!form || !preview) { return; }
          var copy = { subject: 'pSubject', preheader: 'pPreheader', from_name: 'pFrom', body_markdown: 'pBody' };
          var refs = this.$refs;
          Object.keys(copy).forEach(function (name) {
            var input = form.querySelector('[name="' + name + '"]');
            if (input && refs[copy[name]]) { refs[copy[name]].value = input.value; }
          });
          preview.submit();
        },
      };
    });

    // The audience picker's live count: GET data-url?segment_id=… → {"count"}.
    Alpine.data('audienceCount', function () {
      return {
        label: '',
        root: null,
        init: function () {
          this.root = this.$el; // in an event handler $el is the element that fired
          var span = this.root.querySelector('[x-text]');
          this.label = span ? span.textContent : '';
          this.refresh();
        },
        refresh: function () {
          var self = this;
          var select = self.root.querySelector('select');
          var value = select ? select.value : 'all';
          var url = self.root.getAttribute('data-url') + '?segment_id=' + encodeURIComponent(value === 'all' ? '' : value);
          fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
            .then(function (r) { return r.ok ? r.json() : null; })
            .then(function (d) {
              if (d && d.count !== null && d.count !== undefined) {
                self.label = d.count.toLocaleString() + ' subscribed contact' + (d.count === 1 ? '' : 's');
              }
            })
            .catch(function () {});
        },
      };
    });

    // A campaign's opens and clicks per hour over its first 48 hours (uPlot), from a JSON
    // <script> block {hours, opens, clicks}: <div x-data="emailChart" data-source="…">.
    Alpine.data('emailChart', function () {
      return {
        init: function () {
          mountChart(this.$el, 260, function (data, axis) {
            return {
              opts: {
                scales: { x: { time: false } },
                series: [
                  { label: 'Hour' },
                  { label: 'Opens', stroke: '#818cf8', width: 2, fill: 'rgba(129,140,248,0.12)' },
                  { label: 'Clicks', stroke: '#34d399', width: 2 },
                ],
                axes: [Object.assign({ label: 'Hours after sending' }, axis), axis],
              },
              columns: [data.hours, data.opens, data.clicks],
            };
          });
        },
      };
    });

    // ---- crm -----------------------------------------------------------------------------

    // Bulk actions on the contacts list: <form x-data="bulkSelect" data-confirm="…" @submit="ask">,
    // a select-all checkbox @change="toggleAll" and row checkboxes name="ids" @change="count".
    Alpine.data('bulkSelect', function () {
      return {
        selected: 0,
        get selectedLabel() { return this.selected + ' selected'; },
        boxes: function () { return this.$root.querySelectorAll('input[name="ids"]'); },
        count: function () {
          var n = 0;
          this.boxes().forEach(function (b) { if (b.checked) { n += 1; } });
          this.selected = n;
        },
        toggleAll: function (event) {
          var on = event.target.checked;
          this.boxes().forEach(function (b) { b.checked = on; });
          this.count();
        },
        ask: function (event) {
          var action = this.$root.querySelector('select[name="action"]');
          if (this.selected === 0) { return; }
          if (action && action.value === 'delete' && !window.confirm(this.$root.getAttribute('data-confirm') || 'Are you sure?')) {
            event.preventDefault();
          }
        },
      };
    });

    // The CSV upload: sends the file as the body (text/csv) with the CSRF header, then opens
    // the import's progress page. <section x-data="contactImport" data-url="/contacts/import">.
    Alpine.data('contactImport', function () {
      return {
        busy: false,
        error: '',
        upload: function () {
          var self = this;
          var input = this.$refs.file;
          var file = input && input.files && input.files[0];
          if (!file) { self.error = 'Choose a CSV file first.'; return; }
          self.busy = true;
          self.error = '';
          fetch(this.$root.getAttribute('data-url') + '?name=' + encodeURIComponent(file.name), {
            method: 'POST',
            credentials: 'same-origin',
            headers: { 'Content-Type': 'text/csv', Accept: 'application/json', 'X-CSRF-Token': csrfToken() },
            body: file,
          }).then(function (response) {
            return response.json().then(function (data) { return { ok: response.ok, data: data }; });
          }).then(function (result) {
            if (result.ok) { window.location.href = result.data.url; return; }
            self.busy = false;
            self.error = errorText(result.data);
          }).catch(function () {
            self.busy = false;
            self.error = 'The upload failed. Check your connection and try again.';
          });
        },
      };
    });

    // An import's progress: polls data-url (the Import as JSON) every second until it ends.
    Alpine.data('importProgress', function () {
      return {
        status: 'queued', done: 0, total: 1, created: 0, updated: 0, skipped: 0, needsReload: false,
        get finished() { return this.status === 'done' || this.status === 'failed'; },
        get statusLabel() { return this.status.charAt(0).toUpperCase() + this.status.slice(1); },
        get badgeClass() {
          return this.status === 'done' ? 'badge-success' : (this.status === 'failed' ? 'badge-error' : 'badge-info');
        },
        get doneLabel() {
          var pct = this.total ? Math.floor((100 * this.done) / this.total) : 0;
          return this.done.toLocaleString() + ' of ' + this.total.toLocaleString() + ' rows (' + pct + '%)';
        },
        apply: function (d) {
          this.status = d.status;
          this.done = d.progress.done;
          this.total = d.progress.total || Math.max(1, d.progress.done);
          this.created = d.created;
          this.updated = d.updated;
          this.skipped = d.skipped;
        },
        init: function () {
          var self = this;
          var url = this.$root.getAttribute('data-url');
          self.status = this.$root.getAttribute('data-status') || 'queued';
          if (self.finished) {
            fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
              .then(function (r) { return r.ok ? r.json() : null; })
              .then(function (d) { if (d) { self.apply(d); } })
              .catch(function () {});
            return;
          }
          var poll = function () {
            fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
              .then(function (r) { return r.ok ? r.json() : null; })
              .then(function (d) {
                if (!d) { return; }
                self.apply(d);
                if (self.finished) {
                  window.clearInterval(timer);
                  self.needsReload = d.errors && d.errors.length > 0;
                }
              })
              .catch(function () {});
          };
          var timer = window.setInterval(poll, 1000);
          poll();
        },
      };
    });

    // The new-segment form's live count: posts the form's filter fields as JSON to data-url.
    Alpine.data('segmentPreview', function () {
      return {
        label: 'Matching contacts are counted as you type.',
        refresh: function () {
          var self = this;
          var form = this.$root;
          var body = {};
          ['tags_any', 'tags_all', 'status', 'source', 'created_after', 'created_before'].forEach(function (name) {
            var el = form.querySelector('[name="' + name + '"]');
            if (el && el.value) { body[name] = el.value; }
          });
          sendJson('POST', form.getAttribute('data-url'), body).then(function (result) {
            if (result.ok) {
              var n = result.data.contacts;
              self.label = n.toLocaleString() + (n === 1 ? ' contact matches' : ' contacts match') + ' right now.';
            } else {
              self.label = errorText(result.data);
            }
          }).catch(function () {});
        },
      };
    });
  }

  if (window.Alpine && typeof window.Alpine.data === 'function') {
    // Alpine was loaded first (unexpected order): register immediately.
    register(window.Alpine);
  }
  document.addEventListener('alpine:init', function () {
    register(window.Alpine);
  });
})();
