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
  }

  if (window.Alpine && typeof window.Alpine.data === 'function') {
    // Alpine was loaded first (unexpected order): register immediately.
    register(window.Alpine);
  }
  document.addEventListener('alpine:init', function () {
    register(window.Alpine);
  });
})();
