/* domprof HTML report: draws the page from the JSON object embedded in
 * the script element #domprof-data (layout in docs/html.md). Compiled into the
 * binary (embed.py) and inlined in every report, it uses no library and
 * fetches nothing, so a report opens anywhere, offline.
 *
 * Every string from the session (domain, command, image and symbol names)
 * reaches the page as text or an attribute value, never as markup: names
 * come from guests and programs and may be hostile.
 *
 * Errors are written into #domprof-errors (and that element is shown), so
 * that a reader sees a broken page as broken and a test can read the
 * errors from the rendered DOM. */
'use strict';

(function () {
	const errorBox = document.getElementById('domprof-errors');
	function recordError(text) {
		if (!errorBox)
			return;
		errorBox.hidden = false;
		errorBox.textContent += text + '\n';
	}
	window.onerror = function (message, source, line, column, error) {
		recordError('Uncaught ' + ((error && error.stack) || message) + (line ? ' (line ' + line + ')' : ''));
	};
	window.addEventListener('unhandledrejection', function (e) {
		recordError('Unhandled promise rejection: ' + e.reason);
	});
	const consoleError = console.error.bind(console);
	console.error = function (...args) {
		recordError(args.map(String).join(' '));
		consoleError(...args);
	};
})();

(function () {
	const D = JSON.parse(document.getElementById('domprof-data').textContent);
	const NE = D.events.length;
	const SVGNS = 'http://www.w3.org/2000/svg'; /* a namespace name, not a resource */
	const LAYER_ORDER = D.layers; /* every layer, in the display order of lib/vocab/vocab.h */
	const LAYER_TEXT = {
		'user': 'host user space',
		'kernel': 'host kernel',
		'guest-user': 'guest user space',
		'guest-kernel': 'guest kernel',
		'guest': 'guest code (user/kernel not visible from the host)',
		'hypervisor': 'host kernel work for the VM (KVM exits, vhost)',
		'vmm': 'the VMM process (device emulation)',
		'idle': 'the host\u2019s idle loop: CPUs waiting for work (interrupts they serve are host kernel)',
	};
	/* hideIdle: the "Show idle" switch is off; shares are then of busy time. */
	const state = { event: 0, hideIdle: false };
	const HAS_IDLE = D.domains.some(d => d.kind === 'idle');
	const views = []; /* objects with update() for event changes and resize() for width changes */

	/* ---- helpers ---- */

	function h(tag, props, ...children) {
		const e = document.createElement(tag);
		setProps(e, props);
		for (const c of children.flat(Infinity))
			if (c !== null && c !== undefined && c !== false)
				e.append(c instanceof Node ? c : String(c));
		return e;
	}

	function s(tag, props) {
		const e = document.createElementNS(SVGNS, tag);
		setProps(e, props);
		return e;
	}

	function setProps(e, props) {
		if (!props)
			return;
		for (const k of Object.keys(props)) {
			const v = props[k];
			if (v === null || v === undefined || v === false)
				continue;
			if (k === 'class')
				e.setAttribute('class', v);
			else if (k === 'text')
				e.textContent = v;
			else if (k.startsWith('on'))
				e.addEventListener(k.slice(2), v);
			else
				e.setAttribute(k, v === true ? '' : String(v));
		}
	}

	function layerColor(layer) {
		return getComputedStyle(document.documentElement).getPropertyValue('--l-' + layer).trim() || '#999999';
	}

	const layerColors = {};
	function colorOf(layer) {
		if (!(layer in layerColors))
			layerColors[layer] = layerColor(layer);
		return layerColors[layer];
	}

	function swatch(layer) {
		const e = h('span', { class: 'swatch' });
		e.style.background = colorOf(layer);
		return e;
	}

	const nf = new Intl.NumberFormat('en-US');
	function fmtInt(n) { return nf.format(Math.round(n)); }

	function fmtPct(p) {
		if (!isFinite(p))
			return 'n/a';
		if (p === 0)
			return '0%';
		if (p < 0.01)
			return '<0.01%';
		return (p < 10 ? p.toFixed(2) : p.toFixed(1)) + '%';
	}

	function fmtSI(v) {
		const a = Math.abs(v);
		const units = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
		for (const [m, u] of units)
			if (a >= m)
				return (v / m).toFixed(a / m >= 100 ? 0 : a / m >= 10 ? 1 : 2) + ' ' + u;
		return fmtInt(v);
	}

	function fmtNs(ns) {
		const a = Math.abs(ns);
		if (a >= 1e9)
			return (ns / 1e9).toFixed(a >= 1e11 ? 0 : a >= 1e10 ? 1 : 2) + ' s';
		if (a >= 1e6)
			return (ns / 1e6).toFixed(a >= 1e8 ? 0 : 1) + ' ms';
		if (a >= 1e3)
			return (ns / 1e3).toFixed(1) + ' \u00b5s';
		return fmtInt(ns) + ' ns';
	}

	/* A period in its event's unit: time for clock events, a count otherwise. */
	function fmtValue(e, v) { return D.events[e].unit === 'ns' ? fmtNs(v) : fmtSI(v); }
	function valueWord(e) { return D.events[e].unit === 'ns' ? 'Time' : 'Count'; }

	function pct(part, total) { return total > 0 ? (100 * part) / total : 0; }

	/* The 100% of event e's shares: everything shown, or busy time (all but
	 * idle) while idle is hidden. */
	function totalOf(e) {
		const ev = D.events[e];
		return state.hideIdle && ev.busy_period !== undefined ? ev.busy_period : ev.shown_period;
	}
	function shownDomains() { return D.domains.filter(d => !(state.hideIdle && d.kind === 'idle')); }
	/* Elements of the idle domain carry data-idle, which "Show idle" hides. */
	function idleAttr(d) { return d.kind === 'idle' ? true : null; }

	/* A round axis maximum above v, with a tick step. */
	function niceScale(v, ticks) {
		if (!(v > 0))
			return { max: 1, step: 0.25 };
		const raw = v / ticks;
		const mag = Math.pow(10, Math.floor(Math.log10(raw)));
		let step = mag * 10;
		for (const m of [1, 2, 2.5, 5, 10])
			if (raw <= m * mag) {
				step = m * mag;
				break;
			}
		return { max: Math.ceil(v / step - 1e-9) * step, step };
	}

	function hashString(str) {
		let x = 2166136261;
		for (let i = 0; i < str.length; i++) {
			x ^= str.charCodeAt(i);
			x = Math.imul(x, 16777619);
		}
		return x >>> 0;
	}

	function hexToHsl(hex) {
		const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
		if (!m)
			return [0, 0, 60];
		const r = parseInt(m[1], 16) / 255, g = parseInt(m[2], 16) / 255, b = parseInt(m[3], 16) / 255;
		const max = Math.max(r, g, b), min = Math.min(r, g, b), l = (max + min) / 2;
		let hue = 0, sat = 0;
		if (max !== min) {
			const d = max - min;
			sat = l > 0.5 ? d / (2 - max - min) : d / (max + min);
			if (max === r)
				hue = (g - b) / d + (g < b ? 6 : 0);
			else if (max === g)
				hue = (b - r) / d + 2;
			else
				hue = (r - g) / d + 4;
			hue *= 60;
		}
		return [hue, sat * 100, l * 100];
	}

	function domainKind(d) {
		if (d.kind === 'idle')
			return 'the host\u2019s idle loop';
		if (d.kind !== 'vm')
			return 'the host, outside VMs';
		const parts = ['VM'];
		if (d.vmm && d.vmm !== 'unknown')
			parts.push(d.vmm);
		if (d.accel && d.accel !== 'unknown')
			parts.push(d.accel);
		if (d.pid !== null)
			parts.push('pid ' + d.pid);
		if (d.source && d.source.indexOf('agent') >= 0)
			parts.push('agent');
		return parts.join(' \u00b7 ');
	}

	function domainLayers(d) { return LAYER_ORDER.filter(l => d.layers[l]); }

	function usedLayers() {
		const used = new Set();
		for (const d of shownDomains())
			for (const l of Object.keys(d.layers))
				used.add(l);
		return LAYER_ORDER.filter(l => used.has(l));
	}

	function legend(layers) {
		return h('div', { class: 'legend' }, layers.map(l => h('span', { title: LAYER_TEXT[l] || l }, swatch(l), l)));
	}

	function imageBase(path) {
		if (!path || path[0] !== '/')
			return path || '';
		const i = path.lastIndexOf('/');
		return i >= 0 && i + 1 < path.length ? path.slice(i + 1) : path;
	}

	/* ---- tooltip ---- */

	const tip = document.getElementById('tip');
	function showTip(ev, title, rows, extra) {
		tip.replaceChildren();
		if (title)
			tip.append(h('div', { class: 't', text: title }));
		for (const line of extra || [])
			tip.append(h('div', { class: 'd', text: line }));
		for (const [k, v] of rows || [])
			tip.append(h('div', { class: 'r' }, h('span', { text: k }), h('span', { text: v })));
		tip.hidden = false;
		moveTip(ev);
	}
	function moveTip(ev) {
		const pad = 14, w = tip.offsetWidth, ht = tip.offsetHeight;
		let x = ev.clientX + pad, y = ev.clientY + pad;
		if (x + w > window.innerWidth - 8)
			x = Math.max(8, ev.clientX - w - pad);
		if (y + ht > window.innerHeight - 8)
			y = Math.max(8, ev.clientY - ht - pad);
		tip.style.left = x + 'px';
		tip.style.top = y + 'px';
	}
	function hideTip() { tip.hidden = true; }

	/* ---- header and navigation ---- */

	function renderHeader(app) {
		const m = D.session;
		const host = m.hostname || 'unknown host';
		document.title = 'domprof \u2014 ' + host + (m.start_time ? ' \u2014 ' + m.start_time : '');
		const duration = Number(m.duration_ns || 0);
		const meta = [
			['Host', host],
			['Kernel', [m.kernel, m.arch].filter(Boolean).join(' \u00b7 ')],
			['CPUs', m.ncpus],
			['Recorded', m.start_time],
			['Duration', duration ? fmtNs(duration) : null],
			['Target', m.target === 'command' && m.workload ? 'command: ' + imageBase(m.workload.split(' ')[0])
			                                                 : m.target],
			['Call stacks', { fp: 'frame pointers (-g)',
			                  dwarf: 'dwarf: unwound from stack copies with CFI (--call-graph dwarf)',
			                  none: 'none' }[m.callchain] || m.callchain],
			['View', D.view === 'merged' ? 'merged (host + agents)' : D.view],
			['Idle', D.idle && !D.idle.included ? 'left out (--no-idle): shares are of busy time'
				: HAS_IDLE ? 'domain idle, the host\u2019s idle loop (switch: Show idle)'
					   : 'no samples in the host\u2019s idle loop'],
			['Session', D.path],
		].filter(([, v]) => v !== undefined && v !== null && v !== '');
		const chips = D.events.map((e, i) => h('span', { class: 'chip', 'data-event': e.name },
			h('b', { text: e.name }),
			h('span', { text: fmtInt(e.samples) + ' samples' }),
			h('span', { text: fmtValue(i, e.period) }),
			e.lost ? h('span', { text: fmtInt(e.lost) + ' lost' }) : null));
		const banners = [];
		if (m.state && m.state !== 'complete')
			banners.push(h('p', { class: 'banner', text: 'This recording did not finish cleanly (state: ' + m.state +
				'): the report covers what was saved before it stopped.' }));
		const lost = Number(m.lost_samples || 0);
		if (lost > 0)
			banners.push(h('p', { class: 'banner', text: 'The kernel dropped ' + fmtInt(lost) +
				' samples during the recording; use a larger ring (record -m) or a lower rate (-F).' }));
		for (const d of D.domains)
			if (!d.complete)
				banners.push(h('p', { class: 'banner', text: 'Domain ' + d.name + ' is incomplete' +
					(d.note ? ': ' + d.note : '') + '.' }));
		if (D.idle && D.idle.note)
			banners.push(h('p', { class: 'banner', text: 'Idle: ' + D.idle.note + '.' }));
		app.append(h('header', { class: 'masthead' }, h('div', { class: 'wrap' },
			h('div', { class: 'brand', text: 'domprof report' }),
			h('h1', null, host, h('span', { class: 'sub', text: D.domains.length + (D.domains.length === 1 ? ' domain' : ' domains') +
				(m.kernel ? ' \u00b7 ' + m.kernel : '') })),
			h('dl', { class: 'meta' }, meta.map(([k, v]) => h('div', null, h('dt', { text: k }), h('dd', { text: String(v) })))),
			D.command ? h('div', { class: 'cmdline', text: D.command }) : null,
			h('div', { class: 'events' }, chips),
			banners)));
	}

	function renderNav(app) {
		const links = [h('a', { href: '#overview', text: 'Domains & layers' }), h('a', { href: '#timeline', text: 'Timeline' }),
			h('span', { class: 'sep' })];
		D.domains.forEach((d, i) => links.push(h('a', { href: '#domain-' + i, 'data-domain': d.name, 'data-idle': idleAttr(d),
			text: d.name })));
		const right = [h('span', { class: 'spacer' })];
		if (HAS_IDLE) {
			const box = h('input', { type: 'checkbox', id: 'idle-toggle', checked: true });
			box.addEventListener('change', () => setHideIdle(!box.checked));
			right.push(h('label', { class: 'idle-toggle', for: 'idle-toggle',
				title: 'Hide the host\u2019s idle loop: shares become shares of busy time' }, box, 'Show idle'));
		}
		if (NE > 1) {
			const sel = h('select', { id: 'event-select', 'aria-label': 'Event shown in the timeline, flame graphs and tables' },
				D.events.map((e, i) => h('option', { value: i, text: e.name })));
			sel.addEventListener('change', () => setEvent(Number(sel.value)));
			right.push(h('label', { for: 'event-select', text: 'Event' }), sel);
		} else {
			right.push(h('label', { text: 'Event: ' + D.events[0].name }));
		}
		app.append(h('nav', { class: 'nav' }, h('div', { class: 'wrap' }, links, right)));
	}

	function setEvent(e) {
		state.event = e;
		for (const v of views)
			if (v.update)
				v.update();
	}

	function setHideIdle(hide) {
		state.hideIdle = hide;
		document.body.classList.toggle('hide-idle', hide);
		setEvent(state.event);
	}

	/* ---- domains and layers: one stacked bar chart per event ---- */

	function renderOverview(main) {
		const body = h('div');
		const sec = h('section', { id: 'overview' },
			h('h2', { text: 'Where the time goes: domains and layers' }),
			h('p', { class: 'lead', text: 'Each bar is one domain (the host, a VM, or idle: the host\u2019s idle loop), split ' +
				'into layers; its length is the domain\u2019s share of the event over the whole session (of its busy time, ' +
				'everything but idle, while idle is hidden). A VM\u2019s overhead is (hypervisor + vmm) / guest: host work ' +
				'spent running it, per unit of work inside it.' }), body);
		/* Shares depend on whether idle is shown: redrawn when it changes. */
		let drawnHidden = null;
		const draw = () => {
			if (drawnHidden === state.hideIdle)
				return;
			drawnHidden = state.hideIdle;
			body.replaceChildren();
			for (let e = 0; e < NE; e++)
				body.append(barChart(e));
			body.append(layerTable());
		};
		draw();
		views.push({ update: draw });
		main.append(sec);
	}

	function barChart(e) {
		const ev = D.events[e];
		const total = totalOf(e);
		const maxShare = Math.max(0, ...shownDomains().map(d => pct(d.period[e], total)));
		const scale = niceScale(maxShare, 5);
		const card = h('div', { class: 'card bar-card', 'data-event': ev.name });
		card.append(h('div', { class: 'card-head' }, h('h3', { text: ev.name }),
			h('span', { class: 'stat', text: fmtValue(e, total) + (ev.unit === 'ns' ? '' : ' events') + ' in ' +
				fmtInt(ev.samples) + ' samples' }), h('span', { class: 'grow' }), legend(usedLayers())));
		const grid = h('div', { class: 'bars' });
		const axis = h('div', { class: 'axis' });
		for (let t = 0; t <= scale.max + 1e-9; t += scale.step) {
			const span = h('span', { text: (Math.round(t * 100) / 100) + '%' });
			span.style.left = (100 * t / scale.max) + '%';
			axis.append(span);
		}
		grid.append(h('div'), axis, h('div', { class: 'axis' }));
		for (const d of shownDomains()) {
			const track = h('div', { class: 'track', 'data-domain': d.name, 'data-event': ev.name });
			for (let t = scale.step; t < scale.max - 1e-9; t += scale.step) {
				const tick = h('span', { class: 'tick' });
				tick.style.left = (100 * t / scale.max) + '%';
				track.append(tick);
			}
			let x = 0;
			for (const l of domainLayers(d)) {
				const v = d.layers[l].period[e];
				if (!v)
					continue;
				const share = pct(v, total);
				const seg = h('div', { class: 'seg', 'data-domain': d.name, 'data-layer': l });
				seg.style.left = (100 * x / scale.max) + '%';
				seg.style.width = (100 * share / scale.max) + '%';
				seg.style.background = colorOf(l);
				x += share;
				const rows = [[valueWord(e), fmtValue(e, v)], ['Samples', fmtInt(d.layers[l].samples[e])],
					['Share of ' + ev.name, fmtPct(share)], ['Share of ' + d.name, fmtPct(pct(v, d.period[e]))]];
				if (!state.hideIdle && HAS_IDLE && d.kind !== 'idle')
					rows.push(['Share of busy time', fmtPct(pct(v, ev.busy_period))]);
				if (l === 'hypervisor' && d.halt && d.halt.period[e])
					rows.push(['of which vCPU halt', fmtValue(e, d.halt.period[e])]);
				seg.addEventListener('mousemove', m => showTip(m, d.name + ' \u00b7 ' + l, rows, [LAYER_TEXT[l] || '']));
				seg.addEventListener('mouseleave', hideTip);
				track.append(seg);
			}
			const num = h('div', { class: 'bar-num' }, h('span', { class: 'pct', text: fmtPct(pct(d.period[e], total)) }),
				h('span', { class: 'val', text: fmtValue(e, d.period[e]) }));
			if (d.overhead) {
				const o = d.overhead[e];
				num.append(h('span', { class: 'ovh' }, 'overhead ',
					o === null ? h('span', { text: 'n/a (no guest samples)' }) : h('b', { text: fmtPct(100 * o) })));
			}
			grid.append(h('div', { class: 'bar-label', 'data-domain': d.name, 'data-idle': idleAttr(d) },
				h('div', { class: 'name', text: d.name }), h('div', { class: 'kind', text: domainKind(d) })), track, num);
		}
		card.append(grid);
		if (!total)
			card.append(h('p', { class: 'note', text: 'No ' + ev.name + ' samples in this session.' }));
		return card;
	}

	/* The numbers behind the bars, like `domprof report`'s first table. */
	function layerTable() {
		/* busy%: share of everything but idle, beside the share of
		 * everything, while both differ (idle shown and present). */
		const busyCol = HAS_IDLE && !state.hideIdle;
		const head = [h('th', { text: 'Domain / layer' })];
		for (const e of D.events) {
			head.push(h('th', { class: 'num', text: e.name + ' samples' }), h('th', { class: 'num', text: e.unit === 'ns' ? 'time' : 'count' }),
				h('th', { class: 'num', text: '%' }));
			if (busyCol)
				head.push(h('th', { class: 'num', text: 'busy %' }));
		}
		const body = [];
		const cells = (samples, period, idle) => {
			const out = [];
			for (let e = 0; e < NE; e++) {
				out.push(h('td', { class: 'num', text: fmtInt(samples[e]) }), h('td', { class: 'num', text: fmtValue(e, period[e]) }),
					h('td', { class: 'num', text: fmtPct(pct(period[e], totalOf(e))) }));
				if (busyCol)
					out.push(h('td', { class: 'num', text: idle ? '-' : fmtPct(pct(period[e], D.events[e].busy_period)) }));
			}
			return out;
		};
		for (const d of shownDomains()) {
			const idle = d.kind === 'idle';
			body.push(h('tr', { class: 'domain-row', 'data-domain': d.name, 'data-idle': idleAttr(d) },
				h('td', { text: d.name + ' (' + domainKind(d) + ')' }), cells(d.samples, d.period, idle)));
			for (const l of domainLayers(d)) {
				body.push(h('tr', { 'data-idle': idleAttr(d) }, h('td', null, h('span', { class: 'legend' }, h('span', null, swatch(l), l))),
					cells(d.layers[l].samples, d.layers[l].period, idle)));
				if (l === 'hypervisor' && d.halt)
					body.push(h('tr', null, h('td', { class: 'dim', text: 'of which vCPU halt (KVM halt-polling)' }),
						cells(d.halt.samples, d.halt.period, false)));
			}
			if (d.overhead)
				body.push(h('tr', null, h('td', { class: 'dim', text: 'overhead (hypervisor+vmm)/guest' }),
					d.overhead.map(o => [h('td'), h('td'), h('td', { class: 'num', text: o === null ? 'n/a' : fmtPct(100 * o) }),
						busyCol ? h('td') : null])));
		}
		return h('div', { class: 'card' }, h('details', { class: 'numbers' }, h('summary', { text: 'Numbers: every domain and layer' }),
			h('table', null, h('thead', null, h('tr', null, head)), h('tbody', null, body))));
	}

	/* ---- timeline: per domain, stacked layers over time ---- */

	function renderTimeline(main) {
		const T = D.timeline;
		const sec = h('section', { id: 'timeline' }, h('h2', { text: 'Timeline' }));
		const lead = h('p', { class: 'lead' });
		const card = h('div', { class: 'card' });
		const cursorLines = [];
		sec.append(lead, card);
		main.append(sec);
		const ncpus = Number(D.session.ncpus || 0);

		function seriesOf(e, d) {
			const out = {};
			for (const sr of T.series)
				if (sr.event === e && sr.domain === d)
					out[sr.layer] = sr.period;
			return out;
		}
		/* Period per second of wall time: CPUs busy for clock events. The
		 * last point may cover less than a full bucket. */
		function width(i) {
			const start = i * T.bucket_ns;
			const w = T.duration_ns > start ? Math.min(T.bucket_ns, T.duration_ns - start) : T.bucket_ns;
			return Math.max(w, T.bucket_ns / 10);
		}
		function rate(e, v, i) { return D.events[e].unit === 'ns' ? v / width(i) : v / (width(i) / 1e9); }
		function fmtRate(e, r) { return D.events[e].unit === 'ns' ? r.toFixed(2) + ' CPUs' : fmtSI(r) + '/s'; }

		function draw() {
			const e = state.event;
			const unitText = D.events[e].unit === 'ns' ? 'CPUs busy (period per second of wall time)' : D.events[e].name + ' per second';
			lead.textContent = 'Each domain\u2019s ' + D.events[e].name + ' over the session, stacked by layer: ' + unitText +
				', in ' + fmtNs(T.bucket_ns) + ' steps. Hover for values.';
			card.replaceChildren();
			cursorLines.length = 0;
			const N = T.points;
			const stacks = D.domains.map((d, di) => {
				const ser = seriesOf(e, di);
				const layers = LAYER_ORDER.filter(l => ser[l]);
				const tops = layers.map(() => new Float64Array(N));
				const acc = new Float64Array(N);
				layers.forEach((l, k) => {
					for (let i = 0; i < N; i++) {
						acc[i] += rate(e, ser[l][i], i);
						tops[k][i] = acc[i];
					}
				});
				return { layers, tops, acc, ser };
			});
			let ymax = 0;
			stacks.forEach((st, di) => {
				if (state.hideIdle && D.domains[di].kind === 'idle')
					return;
				for (let i = 0; i < N; i++)
					ymax = Math.max(ymax, st.acc[i]);
			});
			if (D.events[e].unit === 'ns' && ncpus && ymax > ncpus * 0.6)
				ymax = Math.max(ymax, ncpus);
			const scale = niceScale(ymax, 3);
			/* Rows first, so the plot's width can be measured. */
			const plots = D.domains.map(d => {
				const plot = h('div', { class: 'tl-plot' });
				card.append(h('div', { class: 'tl-row', 'data-domain': d.name, 'data-idle': idleAttr(d) },
					h('div', { class: 'tl-label' }, h('div', { class: 'name', text: d.name }), h('div', { class: 'kind', text: domainKind(d) })),
					plot));
				return plot;
			});
			const shown = plots.find(p => p.clientWidth > 0);
			const W = Math.max(240, Math.floor(shown ? shown.clientWidth : 800));
			const H = 92, padL = 44, padB = 18, padT = 6;
			const plotW = W - padL - 6, plotH = H - padB - padT;
			const x = t => padL + (N > 1 ? (t / N) * plotW : 0);
			const y = v => padT + plotH - (v / scale.max) * plotH;
			const seconds = (N * T.bucket_ns) / 1e9;
			const xs = niceScale(Math.min(seconds, T.duration_ns ? T.duration_ns / 1e9 : seconds), 8);

			D.domains.forEach((d, di) => {
				const st = stacks[di];
				const svg = s('svg', { class: 'timeline', 'data-domain': d.name, width: W, height: H,
					viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'Timeline of ' + d.name });
				for (let v = 0; v <= scale.max + 1e-9; v += scale.step) {
					svg.append(s('line', { class: v ? 'gridline' : 'axisline', x1: padL, x2: padL + plotW, y1: y(v), y2: y(v) }));
					const label = s('text', { x: padL - 6, y: y(v) + 4, 'text-anchor': 'end' });
					label.textContent = D.events[e].unit === 'ns' ? String(Math.round(v * 100) / 100) : fmtSI(v);
					svg.append(label);
				}
				for (let t = 0; t <= xs.max + 1e-9 && t <= seconds + 1e-9; t += xs.step) {
					const px = padL + (t / seconds) * plotW;
					svg.append(s('line', { class: 'gridline', x1: px, x2: px, y1: padT, y2: padT + plotH }));
					const label = s('text', { x: px, y: H - 4, 'text-anchor': t ? 'middle' : 'start' });
					label.textContent = (Math.round(t * 1000) / 1000) + ' s';
					svg.append(label);
				}
				if (D.events[e].unit === 'ns' && ncpus && ncpus <= scale.max + 1e-9)
					svg.append(s('line', { class: 'capacity', x1: padL, x2: padL + plotW, y1: y(ncpus), y2: y(ncpus) }));
				/* Areas from the top of the stack down, each filled to the
				 * base, so the lower layers paint over the upper ones. */
				for (let k = st.layers.length - 1; k >= 0; k--) {
					let path = 'M' + x(0).toFixed(1) + ',' + y(0).toFixed(1);
					for (let i = 0; i < N; i++) {
						const v = st.tops[k][i];
						path += 'L' + x(i).toFixed(1) + ',' + y(v).toFixed(1) + 'L' + x(i + 1).toFixed(1) + ',' + y(v).toFixed(1);
					}
					path += 'L' + x(N).toFixed(1) + ',' + y(0).toFixed(1) + 'Z';
					svg.append(s('path', { d: path, fill: colorOf(st.layers[k]), 'data-layer': st.layers[k] }));
				}
				if (!st.layers.length) {
					const t = s('text', { x: padL + plotW / 2, y: padT + plotH / 2, 'text-anchor': 'middle' });
					t.textContent = 'no ' + D.events[e].name + ' samples';
					svg.append(t);
				}
				const cursor = s('line', { class: 'cursor', x1: 0, x2: 0, y1: padT, y2: padT + plotH, visibility: 'hidden' });
				svg.append(cursor);
				cursorLines.push(cursor);
				const overlay = s('rect', { x: padL, y: padT, width: plotW, height: plotH, fill: 'transparent' });
				overlay.addEventListener('mousemove', m => {
					const r = svg.getBoundingClientRect();
					const i = Math.max(0, Math.min(N - 1, Math.floor(((m.clientX - r.left - padL) / plotW) * N)));
					for (const c of cursorLines) {
						c.setAttribute('x1', x(i + 0.5));
						c.setAttribute('x2', x(i + 0.5));
						c.setAttribute('visibility', 'visible');
					}
					const rows = [];
					for (let k = st.layers.length - 1; k >= 0; k--)
						rows.push([st.layers[k], fmtRate(e, rate(e, st.ser[st.layers[k]][i], i))]);
					rows.push(['total', fmtRate(e, st.acc[i])]);
					const t0 = (i * T.bucket_ns) / 1e9;
					showTip(m, d.name, rows, [t0.toFixed(2) + ' \u2013 ' + (t0 + width(i) / 1e9).toFixed(2) + ' s']);
				});
				overlay.addEventListener('mouseleave', () => {
					hideTip();
					for (const c of cursorLines)
						c.setAttribute('visibility', 'hidden');
				});
				svg.append(overlay);
				plots[di].append(svg);
			});
			const layers = LAYER_ORDER.filter(l => stacks.some(st => st.layers.includes(l)));
			if (layers.length)
				card.append(h('div', { class: 'note' }, legend(layers)));
		}
		views.push({ update: draw, resize: draw });
	}

	/* ---- flame graphs ---- */

	/* A domain's tree from its flat node list: [parent, name, image,
	 * period per event, samples per event] per node, preorder. */
	function decodeTree(d) {
		const f = d.flame.nodes, stride = 3 + 2 * NE, nodes = [];
		for (let o = 0; o + stride <= f.length; o += stride) {
			const n = {
				name: D.strings[f[o + 1]],
				image: f[o + 2] >= 0 ? D.strings[f[o + 2]] : '',
				period: f.slice(o + 3, o + 3 + NE),
				samples: f.slice(o + 3 + NE, o + 3 + 2 * NE),
				children: [],
				up: null,
				depth: 0,
				layer: null,
				comm: null,
			};
			const p = f[o];
			if (p >= 0 && p < nodes.length) {
				n.up = nodes[p];
				n.depth = n.up.depth + 1;
				n.up.children.push(n);
				n.layer = n.depth === 1 ? n.name : n.up.layer;
				n.comm = n.depth === 2 ? n.name : n.up.comm;
			}
			nodes.push(n);
		}
		for (const n of nodes)
			n.children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.image < b.image ? -1 : a.image > b.image ? 1 : 0));
		return nodes;
	}

	const ROW = 18, MIN_WIDTH = 0.4;
	let measureCtx = null;
	function textWidth(str) {
		if (!measureCtx) {
			measureCtx = document.createElement('canvas').getContext('2d');
			measureCtx.font = '11.5px ' + getComputedStyle(document.body).fontFamily;
		}
		return measureCtx.measureText(str).width;
	}
	function fitText(str, w) {
		const room = w - 6;
		if (room < 14)
			return '';
		if (textWidth(str) <= room)
			return str;
		let lo = 0, hi = str.length;
		while (lo < hi) {
			const mid = (lo + hi + 1) >> 1;
			if (textWidth(str.slice(0, mid) + '\u2026') <= room)
				lo = mid;
			else
				hi = mid - 1;
		}
		return lo >= 2 ? str.slice(0, lo) + '\u2026' : '';
	}

	/* Bracketed image names that are not kernel code. */
	const NOT_KERNEL = new Set(['[vdso]', '[vsyscall]', '[anon]', '[guest code]', '[guest user]', '[guest.kernel]',
		'[heap]', '[stack]', '[unknown]', '[jit]']);
	function isKernelImage(image) {
		return image === '[kernel.kallsyms]' || (/^\[[^\]/]+\]$/.test(image) && !NOT_KERNEL.has(image));
	}

	/* The layer a frame's own code belongs to: a kernel-mode sample's
	 * stack also holds the user-space callers that made the system call,
	 * and those are coloured as user space. */
	function frameLayer(n) {
		const L = n.layer, img = n.image;
		if (!img || L === 'idle')
			return L; /* the idle loop is idle whatever code it runs */
		if (img === '[guest.kernel]')
			return 'guest-kernel';
		if (img === '[guest code]')
			return 'guest';
		if (img === '[guest user]')
			return 'guest-user';
		const k = isKernelImage(img);
		if (L === 'guest-user' || L === 'guest-kernel' || L === 'guest')
			return k ? 'guest-kernel' : L === 'guest' ? 'guest' : 'guest-user';
		if (L === 'hypervisor' || L === 'vmm')
			return k ? 'hypervisor' : 'vmm';
		return k ? 'kernel' : 'user';
	}

	function frameColor(n) {
		if (n.depth === 0)
			return '#a3abb8';
		if (n.depth === 1)
			return colorOf(n.layer);
		const [hue, sat, light] = hexToHsl(colorOf(n.depth === 2 ? n.layer : frameLayer(n)));
		if (n.depth === 2)
			return 'hsl(' + hue.toFixed(0) + ',' + (sat * 0.7).toFixed(0) + '%,' + Math.min(82, light + 14).toFixed(0) + '%)';
		/* Frames: their layer's hue, varied by name so that neighbours
		 * differ but a function keeps its colour across redraws. */
		const x = hashString(n.name);
		const dh = ((x & 0xff) / 255 - 0.5) * 24;
		const dl = (((x >>> 8) & 0xff) / 255) * 18;
		return 'hsl(' + (hue + dh).toFixed(0) + ',' + Math.min(88, sat * 0.9 + 16).toFixed(0) + '%,' +
			Math.min(80, 56 + dl).toFixed(0) + '%)';
	}

	function FlameGraph(d, di) {
		this.d = d;
		this.di = di;
		this.nodes = decodeTree(d);
		this.root = this.nodes[0];
		this.zoom = this.root;
		this.pattern = null;
		this.drawn = [];

		this.svg = s('svg', { class: 'flame', 'data-domain': d.name, role: 'img', 'aria-label': 'Flame graph of ' + d.name });
		this.search = h('input', { type: 'search', placeholder: 'Search functions (regex)', 'aria-label': 'Search functions in ' + d.name });
		this.matchInfo = h('span', { class: 'match-info' });
		this.reset = h('button', { type: 'button', text: 'Reset zoom', disabled: true });
		this.stat = h('span', { class: 'stat' });
		const self = this;
		let timer = 0;
		this.search.addEventListener('input', () => {
			clearTimeout(timer);
			timer = setTimeout(() => self.setSearch(self.search.value), 120);
		});
		/* Enter (or leaving the box) applies the search at once. */
		this.search.addEventListener('change', () => {
			clearTimeout(timer);
			self.setSearch(self.search.value);
		});
		this.search.addEventListener('keydown', e => {
			if (e.key === 'Escape') {
				self.search.value = '';
				self.setSearch('');
			}
		});
		this.reset.addEventListener('click', () => self.zoomTo(self.root));
		this.svg.addEventListener('click', e => {
			const g = e.target.closest('g.fr');
			if (g)
				self.zoomTo(self.drawn[Number(g.getAttribute('data-i'))]);
		});
		this.svg.addEventListener('mousemove', e => {
			const g = e.target.closest('g.fr');
			if (g)
				self.tip(e, self.drawn[Number(g.getAttribute('data-i'))]);
			else
				hideTip();
		});
		this.svg.addEventListener('mouseleave', hideTip);

		const pruned = d.flame.pruned ? fmtInt(d.flame.pruned) + ' smaller frames (under ' + d.flame.min_percent +
			'% of ' + d.name + ' in every event) are merged into their callers. ' : '';
		this.card = h('div', { class: 'card flame-card', 'data-domain': d.name },
			h('div', { class: 'card-head' }, h('h3', { text: 'Flame graph' }), this.stat, h('span', { class: 'grow' }),
				this.matchInfo, this.search, this.reset),
			h('div', { class: 'flame-wrap' }, this.svg),
			h('p', { class: 'note', text: 'Callers above callees: ' + d.name + ' \u203a layer \u203a command \u203a call stack. A frame\u2019s ' +
				'width is its share of the domain, itself and what it called; its colour is the layer its code runs in. ' +
				'Click a frame to zoom in, an ancestor (dimmed) to zoom out. ' + pruned + (D.session.callchain === 'fp' ? '' :
				'Recorded without -g: each frame is the sampled function alone.') }));
	}

	FlameGraph.prototype.setSearch = function (text) {
		this.pattern = null;
		if (text) {
			try {
				this.pattern = new RegExp(text, 'i');
			} catch (err) {
				this.pattern = new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i');
			}
		}
		this.render();
	};

	FlameGraph.prototype.zoomTo = function (n) {
		if (!n)
			return;
		this.zoom = n;
		this.reset.disabled = n === this.root;
		hideTip();
		this.render();
	};

	FlameGraph.prototype.tip = function (ev, n) {
		const e = state.event, v = n.period[e];
		let self = v, selfSamples = n.samples[e];
		for (const c of n.children) {
			self -= c.period[e];
			selfSamples -= c.samples[e];
		}
		const rows = [[valueWord(e), fmtValue(e, v)], ['Samples', fmtInt(n.samples[e])],
			['Share of ' + this.d.name, fmtPct(pct(v, this.root.period[e]))],
			['Share of all ' + D.events[e].name, fmtPct(pct(v, D.events[e].shown_period))]];
		if (this.zoom !== this.root && n.depth >= this.zoom.depth)
			rows.push(['Share of zoomed frame', fmtPct(pct(v, this.zoom.period[e]))]);
		if (n.children.length)
			rows.push(['Self', fmtValue(e, Math.max(0, self)) + ' \u00b7 ' + fmtInt(Math.max(0, selfSamples)) + ' samples']);
		const lines = [];
		if (n.depth === 0)
			lines.push('domain ' + n.name + ' (' + domainKind(this.d) + ')');
		else if (n.depth === 1)
			lines.push('layer: ' + (LAYER_TEXT[n.name] || n.name));
		else if (n.depth === 2)
			lines.push('command ' + n.name + ' \u00b7 layer ' + n.layer);
		else {
			if (n.image)
				lines.push(n.image);
			lines.push('sample layer ' + n.layer + ' \u00b7 code in ' + frameLayer(n) + ' \u00b7 command ' + n.comm);
		}
		showTip(ev, n.name, rows, lines);
	};

	FlameGraph.prototype.render = function () {
		const e = state.event, svg = this.svg, root = this.root, zoom = this.zoom;
		const W = Math.max(300, Math.floor(svg.parentNode.clientWidth || 1000));
		svg.replaceChildren();
		this.drawn = [];
		const total = root.period[e];
		this.stat.textContent = fmtValue(e, total) + ' \u00b7 ' + fmtInt(root.samples[e]) + ' samples';
		if (!zoom.period[e]) {
			svg.setAttribute('width', W);
			svg.setAttribute('height', 40);
			svg.setAttribute('viewBox', '0 0 ' + W + ' 40');
			const t = s('text', { x: W / 2, y: 24, 'text-anchor': 'middle' });
			t.textContent = 'No ' + D.events[e].name + ' samples in ' + this.d.name;
			svg.append(t);
			this.updateMatches();
			return;
		}
		const scale = W / zoom.period[e];
		const pattern = this.pattern;
		let maxDepth = 0;
		const draw = (n, x, w, ancestor) => {
			const i = this.drawn.length;
			this.drawn.push(n);
			const cls = 'fr' + (ancestor ? ' anc' : '') + (pattern && n.depth > 0 && pattern.test(n.name) ? ' match' : '');
			const g = s('g', { class: cls, 'data-i': i, 'data-name': n.name, 'data-depth': n.depth });
			g.append(s('rect', { x: x.toFixed(2), y: n.depth * ROW, width: Math.max(0.5, w - 0.5).toFixed(2), height: ROW - 1,
				fill: frameColor(n), rx: 1.5 }));
			const label = fitText(n.name, w);
			if (label) {
				const t = s('text', { x: (x + 3).toFixed(1), y: n.depth * ROW + 12.5 });
				t.textContent = label;
				g.append(t);
			}
			svg.append(g);
			maxDepth = Math.max(maxDepth, n.depth);
		};
		/* Ancestors of the zoomed frame span the whole width. */
		const chain = [];
		for (let a = zoom.up; a; a = a.up)
			chain.unshift(a);
		for (const a of chain)
			draw(a, 0, W, true);
		const stack = [[zoom, 0]];
		while (stack.length) {
			const [n, x] = stack.pop();
			const w = n.period[e] * scale;
			if (w < MIN_WIDTH)
				continue;
			draw(n, x, w, false);
			let cx = x;
			const kids = [];
			for (const c of n.children) {
				if (c.period[e]) {
					kids.push([c, cx]);
					cx += c.period[e] * scale;
				}
			}
			for (let k = kids.length - 1; k >= 0; k--)
				stack.push(kids[k]);
		}
		const H = (maxDepth + 1) * ROW;
		svg.setAttribute('width', W);
		svg.setAttribute('height', H);
		svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
		this.updateMatches();
	};

	/* Matched share like FlameGraph's: frames that match, not counting a
	 * match inside another match twice. */
	FlameGraph.prototype.updateMatches = function () {
		if (!this.pattern) {
			this.matchInfo.textContent = '';
			return;
		}
		const e = state.event, pattern = this.pattern;
		let sum = 0, frames = 0;
		const stack = this.root.children.slice();
		while (stack.length) {
			const n = stack.pop();
			if (pattern.test(n.name)) {
				sum += n.period[e];
				frames++;
				continue;
			}
			for (const c of n.children)
				stack.push(c);
		}
		this.matchInfo.textContent = frames ? 'Matched: ' + fmtPct(pct(sum, this.root.period[e])) + ' of ' + this.d.name
			: 'No match';
		this.matchInfo.setAttribute('data-matched', pct(sum, this.root.period[e]).toFixed(4));
	};

	/* ---- top symbols: a sortable table per domain ---- */

	function TopTable(d) {
		this.d = d;
		this.sortKey = 'period';
		this.sortDir = -1;
		this.filter = '';
		this.tbody = h('tbody');
		this.thead = h('thead');
		this.count = h('span', { class: 'stat' });
		const input = h('input', { type: 'search', placeholder: 'Filter symbol, image, command', 'aria-label': 'Filter the rows of ' + d.name });
		input.addEventListener('input', () => {
			this.filter = input.value.toLowerCase();
			this.renderBody();
		});
		this.card = h('div', { class: 'card table-card', 'data-domain': d.name },
			h('div', { class: 'card-head' }, h('h3', { text: 'Top symbols' }), this.count, h('span', { class: 'grow' }), input),
			h('div', { class: 'table-scroll' }, h('table', { class: 'top', 'data-domain': d.name }, this.thead, this.tbody)),
			h('p', { class: 'note', text: 'Self time: samples whose sampled function is the symbol, grouped by layer, image ' +
				'and symbol as in domprof report. Click a column to sort.' }));
	}

	TopTable.prototype.columns = function () {
		const e = state.event;
		const dTotal = this.d.period[e], all = totalOf(e);
		return [
			{ key: 'symbol', label: 'Symbol', get: r => r.symbol, cell: r => h('td', { class: 'sym', title: r.symbol, text: symbolText(r) }) },
			{ key: 'image', label: 'Image', get: r => imageBase(r.image), cell: r => h('td', { class: 'img', title: r.image, text: imageBase(r.image) }) },
			{ key: 'layer', label: 'Layer', get: r => r.layer, cell: r => h('td', null, h('span', { class: 'legend' }, h('span', null, swatch(r.layer), r.layer))) },
			{ key: 'comm', label: 'Command', get: r => r.comm || '', cell: r => h('td', { class: 'dim', text: (r.comm || '') + (r.comms > 1 ? ' (+' + (r.comms - 1) + ')' : '') }) },
			{ key: 'samples', label: 'Samples', num: true, get: r => r.samples[e], cell: r => h('td', { class: 'num', text: fmtInt(r.samples[e]) }) },
			{ key: 'period', label: valueWord(e), num: true, get: r => r.period[e], cell: r => h('td', { class: 'num', text: fmtValue(e, r.period[e]) }) },
			{ key: 'pd', label: '% of ' + this.d.name, num: true, get: r => r.period[e], cell: r => {
				const p = pct(r.period[e], dTotal);
				const bar = h('i');
				bar.style.width = Math.min(100, p) + '%';
				return h('td', { class: 'num' }, h('span', { class: 'pctcell' }, h('span', { class: 'track-mini' }, bar), fmtPct(p)));
			} },
			{ key: 'pa', label: state.hideIdle ? '% of busy' : '% of all', num: true, get: r => r.period[e], cell: r => h('td', { class: 'num dim', text: fmtPct(pct(r.period[e], all)) }) },
		];
	};

	function symbolText(r) {
		if (r.symbol === '[unknown]' && r.address)
			return '[unknown] @' + (r.address[0] === r.address[1] ? r.address[0] : r.address[0] + '..' + r.address[1]);
		return r.symbol;
	}

	TopTable.prototype.update = function () {
		const cols = this.columns();
		const tr = h('tr');
		for (const c of cols) {
			const th = h('th', { class: 'sortable' + (c.num ? ' num' : ''), scope: 'col', text: c.label });
			if (c.key === this.sortKey)
				th.setAttribute('aria-sort', this.sortDir < 0 ? 'descending' : 'ascending');
			th.addEventListener('click', () => {
				if (this.sortKey === c.key)
					this.sortDir = -this.sortDir;
				else {
					this.sortKey = c.key;
					this.sortDir = c.num ? -1 : 1;
				}
				this.update();
			});
			tr.append(th);
		}
		this.thead.replaceChildren(tr);
		this.renderBody();
	};

	TopTable.prototype.renderBody = function () {
		const cols = this.columns(), e = state.event;
		const col = cols.find(c => c.key === this.sortKey) || cols[5];
		const f = this.filter;
		let rows = this.d.top.rows.filter(r => r.period[e] > 0 || r.samples[e] > 0);
		if (f)
			rows = rows.filter(r => (r.symbol + '\u0000' + r.image + '\u0000' + (r.comm || '') + '\u0000' + r.layer).toLowerCase().indexOf(f) >= 0);
		const dir = this.sortDir;
		rows.sort((a, b) => {
			const x = col.get(a), y = col.get(b);
			if (x < y)
				return -dir;
			if (x > y)
				return dir;
			return b.period[e] - a.period[e];
		});
		const body = rows.map(r => h('tr', { 'data-symbol': r.symbol }, cols.map(c => c.cell(r))));
		if (!body.length)
			body.push(h('tr', null, h('td', { class: 'empty', colspan: cols.length, text: f ? 'No row matches the filter.' :
				'No ' + D.events[e].name + ' samples in ' + this.d.name + '.' })));
		this.tbody.replaceChildren(...body);
		const t = this.d.top;
		this.count.textContent = (t.shown_rows < t.total_rows ? 'top ' + fmtInt(t.shown_rows) + ' of ' + fmtInt(t.total_rows)
			: fmtInt(t.total_rows)) + ' rows' + (f ? ' \u00b7 ' + fmtInt(rows.length) + ' shown' : '');
	};

	/* ---- per-domain sections ---- */

	function renderDomains(main) {
		D.domains.forEach((d, di) => {
			const stat = h('span', { class: 'stat' });
			const sec = h('section', { id: 'domain-' + di, class: 'domain', 'data-domain': d.name, 'data-idle': idleAttr(d) },
				h('div', { class: 'domain-head' }, h('h2', { text: d.name }),
					h('span', { class: 'badge' + (d.kind === 'vm' ? ' vm' : ''), text: domainKind(d) }),
					d.complete ? null : h('span', { class: 'badge warn', text: 'incomplete' }), stat));
			const fg = new FlameGraph(d, di);
			const table = new TopTable(d);
			sec.append(fg.card, table.card);
			main.append(sec);
			const updateStat = () => {
				const e = state.event;
				stat.replaceChildren(h('b', { text: fmtValue(e, d.period[e]) }), ' ' + D.events[e].name + ' \u00b7 ' +
					fmtPct(pct(d.period[e], totalOf(e))) + (state.hideIdle ? ' of the busy time' : ' of the session'),
					d.overhead ? ' \u00b7 overhead ' + (d.overhead[e] === null ? 'n/a' : fmtPct(100 * d.overhead[e])) : '');
			};
			views.push({ update: updateStat });
			views.push({ update: () => fg.render(), resize: () => fg.render() });
			views.push({ update: () => table.update() });
		});
	}

	/* ---- page ---- */

	const app = document.getElementById('app');
	renderHeader(app);
	renderNav(app);
	const main = h('main', null);
	const wrap = h('div', { class: 'wrap' }, main);
	app.append(wrap);
	renderOverview(main);
	renderTimeline(main);
	renderDomains(main);
	wrap.append(h('footer', { text: 'Generated by ' + D.generator + ' from ' + D.path + '. Self-contained: this file loads nothing ' +
		'from the network. The same numbers as text: domprof report -i ' + imageBase(D.path) + '.' }));
	for (const v of views)
		v.update();
	let lastWidth = window.innerWidth, resizeTimer = 0;
	window.addEventListener('resize', () => {
		if (window.innerWidth === lastWidth)
			return;
		lastWidth = window.innerWidth;
		clearTimeout(resizeTimer);
		resizeTimer = setTimeout(() => {
			for (const v of views)
				if (v.resize)
					v.resize();
		}, 150);
	});
	document.body.setAttribute('data-rendered', 'true');
})();
