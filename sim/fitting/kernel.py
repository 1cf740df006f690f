"""The per-member likelihood of the message-response model and its exact gradient, compiled.

Each member's integral over the quadrature nodes is a loop over nodes and messages with a
handful of operations per step; in NumPy every step would be a pass over a (messages x nodes)
array, 20-50 times slower, so this one kernel is compiled with numba (cached on disk) and runs
members in parallel. Members write only their own rows, so the result does not depend on the
number of threads. The model is stated in sim.fitting.likelihood.

Parameter slots of ``par`` (and columns of the gradient), fixed here so the kernel needs no
layout: see SLOTS.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

SLOTS = (
    "open.email", "open.sms", "open.push",
    "click.email", "click.sms", "click.push",
    "log_exit.email", "log_exit.sms", "log_exit.push",
    "logit_complaint_share.email",
    "log_intrusiveness.email", "log_intrusiveness.sms", "log_intrusiveness.push",
    "log_half_life", "logit_cross_channel",
    "fatigue.open", "fatigue.click", "fatigue.exit",
    "relevance.open", "relevance.click", "relevance.exit",
    "log_tolerance_median", "log_tolerance_sigma",
    "engagement.open", "engagement.click",
)  # fmt: skip
# First slot of each parameter (per-channel ones take three, email first).
OPEN, CLICK, EXIT, SHARE, INTRUSIVE = (SLOTS.index(n) for n in (
    "open.email", "click.email", "log_exit.email", "logit_complaint_share.email",
    "log_intrusiveness.email",
))  # fmt: skip
HALF, CROSS, FAT_O, FAT_K, FAT_X, REL_O, REL_K, REL_X = (SLOTS.index(n) for n in (
    "log_half_life", "logit_cross_channel", "fatigue.open", "fatigue.click", "fatigue.exit",
    "relevance.open", "relevance.click", "relevance.exit",
))  # fmt: skip
TOL_MU, TOL_SIGMA, ENG_O, ENG_K = (SLOTS.index(n) for n in (
    "log_tolerance_median", "log_tolerance_sigma", "engagement.open", "engagement.click",
))  # fmt: skip
LN2 = math.log(2.0)
CLIP = 1e-12  # the probability of an exit stays at most 1 - CLIP
LOG_TOP = math.log1p(-CLIP)
IRRELEVANCE = 0.5  # sim.model.fatigue.IRRELEVANCE_SLOPE (a compiled constant)


# Beyond this logit, e^eta is not formed (a product of 1 + e^eta would overflow): the node's
# terms are taken the slow, stable way.
BIG = 300.0
# A running product of 1 + e^eta is folded into its logarithm past this size.
FOLD = 1e200


@njit(cache=True)
def _exit(log_xh, exited, complained, share):  # type: ignore[no-untyped-def]
    """One message's exit term at log(x H): its log-likelihood, its derivative in log H, its
    derivative in the complaint share's logit, and P(exit). P(exit) = min(1, x H) is kept
    below 1 - CLIP so that staying has a log; where the clip binds, the exit no longer moves
    with H."""
    clipped = log_xh > LOG_TOP
    if clipped:
        log_xh = LOG_TOP
    xh = math.exp(log_xh)
    g_share = 0.0
    if exited:
        if complained:
            ll = math.log(share + 1e-300) + log_xh
            g_share = 1.0 - share
        else:
            ll = math.log1p(-share) + log_xh
            g_share = -share
        d = 1.0
    else:
        ll = math.log1p(-xh)
        d = -xh / (1.0 - xh)
    if clipped:
        d = 0.0
    return ll, d, g_share, xh


@njit(cache=True)
def _logistic(arg, q, shift, scale, stable):  # type: ignore[no-untyped-def]
    """At eta = arg + shift, with q = e^arg and scale = e^shift: (1 + e^eta, expit(eta)),
    the first for the caller's running product; where ``stable`` (eta may be huge),
    (-log(1 + e^eta), expit(eta)) taken the slow way instead."""
    if stable:
        eta = arg + shift
        ex = math.exp(-abs(eta))
        p = 1.0 / (1.0 + ex) if eta >= 0 else ex / (1.0 + ex)
        return -(max(eta, 0.0) + math.log1p(ex)), p
    t = q * scale
    return 1.0 + t, t / (1.0 + t)


@njit(cache=True)
def _responses(rows, arg, q, y, shift, scale, stable, channel, rel, e, res):  # type: ignore[no-untyped-def]
    """Over the messages ``rows`` (positions in the member's arrays), with logits
    eta = arg + shift: the sum of log(1 + e^eta), and the residuals y - expit(eta) summed by
    channel and times relevance and excess; each residual is written to ``res``. The
    logarithms are taken of a running product of 1 + e^eta, folded past FOLD, unless
    ``stable`` (_logistic)."""
    product = 1.0
    soft = 0.0  # log(1 + e^eta) summed, less what ``product`` holds
    s0 = s1 = s2 = s_rel = s_fat = 0.0
    for a in range(rows.size):
        k = rows[a]
        one, p = _logistic(arg[k], q[k], shift, scale, stable)
        if stable:
            soft -= one
        else:
            product *= one
            if product > FOLD:
                soft += math.log(product)
                product = 1.0
        r = y[k] - p
        res[k] = r
        c = channel[k]
        if c == 0:
            s0 += r
        elif c == 1:
            s1 += r
        else:
            s2 += r
        s_rel += r * rel[k]
        s_fat += r * e[k]
    return soft + math.log(product), s0, s1, s2, s_rel, s_fat


@njit(cache=True, parallel=True)
def member_terms(
    par, starts, counts, time, channel, relevance, opened, clicked, exited, complained,
    tol_nodes, tol_log_weight, eng_nodes, eng_log_weight, sens_nodes, use_clicks, predicted,
):  # fmt: skip
    """log L_i and d log L_i / d par for every member (rows), and the posterior mean and
    mean square of its engagement given each (tolerance, sensitivity) node, with the log of
    that node's posterior probability (``conditional``, members x blocks x 3; block
    b = j * L + l).

    Each member has its own nodes: tolerance as standard-normal scores ``tol_nodes[i]``
    (theta = exp(mu + sigma x)) and, for each (tolerance, sensitivity) block b, engagement
    values ``eng_nodes[i, b]``, with log weights that already include the standard-normal
    density (sim.fitting.likelihood places them); sensitivity takes the values
    ``sens_nodes`` with equal weights.

    ``predicted`` (messages x 4), when it has a row per message, receives each message's
    probabilities of an open, a click and an exit, and the felt pressure, averaged over the
    member's posterior: the fitted values the diagnostics set beside the observed ones.

    Work is shared where the terms allow: the felt pressure does not depend on the tolerance,
    a message under the tolerance (E = 0) has the same terms at every tolerance node, and the
    engagement nodes of a block shift every open logit by the same amount, so e^eta is
    e^(eta - bE z) e^(bE z) and the open terms of a node need no exponential of their own;
    their logarithms are summed as the logarithm of a running product.
    """
    predict = predicted.shape[0] == time.size
    n_members = starts.size
    J, M, L = tol_nodes.shape[1], eng_nodes.shape[2], sens_nodes.size
    P = par.size
    log_l = np.zeros(n_members)
    grad = np.zeros((n_members, P))
    half = math.exp(par[HALF])
    kappa = 1.0 / (1.0 + math.exp(-par[CROSS]))
    share = 1.0 / (1.0 + math.exp(-par[SHARE]))
    sigma = math.exp(par[TOL_SIGMA])
    w = np.empty(3)
    for c in range(3):
        w[c] = math.exp(par[INTRUSIVE + c]) if c > 0 else 1.0
    fo, fk, fx = par[FAT_O], par[FAT_K], par[FAT_X]
    ro, rk, rx = par[REL_O], par[REL_K], par[REL_X]
    eo, ek = par[ENG_O], par[ENG_K]
    log_w_sens = -math.log(L)
    conditional = np.zeros((n_members, J * L, 3))
    peak = np.zeros(n_members)
    for i in prange(n_members):
        s0, n = starts[i], counts[i]
        nodes = J * L * M
        node_ll = np.empty(nodes)
        node_g = np.zeros((nodes, P))
        node_p = np.empty((nodes if predict else 0, n, 4))
        level = np.empty((n, 3))
        dlevel = np.empty((n, 3))
        # Per message, at one sensitivity node: what does not depend on the tolerance.
        felt = np.empty(n)
        d_felt = np.empty((n, 4))  # d F / d (sms weight, push weight, cross logit, log h)
        rel_k = np.empty(n)
        arg_o0 = np.empty(n)  # open logit less fatigue and engagement
        arg_k0 = np.empty(n)
        q_o0 = np.empty(n)
        q_k0 = np.empty(n)
        x0 = np.empty((n, 4))  # the exit term at E = 0: ll, d, d share, P(exit)
        # Per message, at one tolerance node.
        e_k = np.zeros(n)
        arg_o = np.empty(n)
        arg_k = np.empty(n)
        q_o = np.empty(n)
        q_k = np.empty(n)
        d_of = np.empty((n, 6))
        dh_x = np.empty(n)
        fat = np.empty(n, dtype=np.int64)  # messages over the tolerance (E > 0)
        res_o = np.empty(n)
        res_k = np.zeros(n)  # stays 0 where there is no click term
        gx0 = np.empty(P)
        gx = np.empty(P)  # the exit terms' gradient at one (tolerance, sensitivity) node
        mine = channel[s0 : s0 + n]
        everyone = np.arange(n)
        y_o = np.empty(n)
        y_k = np.empty(n)
        n_open = 0
        for k in range(n):
            y_o[k] = 1.0 if opened[s0 + k] else 0.0
            y_k[k] = 1.0 if clicked[s0 + k] else 0.0
            if opened[s0 + k]:
                n_open += 1
        shown = np.empty(n_open, dtype=np.int64)  # the opened messages: the click terms
        n_open = 0
        n_click = 0
        for k in range(n):
            if opened[s0 + k]:
                shown[n_open] = k
                n_open += 1
                if clicked[s0 + k]:
                    n_click += 1
        # A click term needs e^eta of the click logit only on an opened message, unless the
        # fitted probabilities are asked for.
        wants_k = np.empty(n, dtype=np.bool_)
        for k in range(n):
            wants_k[k] = predict or (use_clicks and opened[s0 + k])
        for l_ in range(L):
            phi = sens_nodes[l_]
            # Pressures by source channel after each message's own increment (unit weight).
            for c in range(3):
                level[0, c] = 0.0
                dlevel[0, c] = 0.0
            for k in range(n):
                g = s0 + k
                if k > 0:
                    gap = time[g] - time[g - 1]
                    decay = math.exp(-LN2 * gap / half)
                    for c in range(3):
                        dlevel[k, c] = (
                            dlevel[k - 1, c] + level[k - 1, c] * LN2 * gap / half
                        ) * decay
                        level[k, c] = level[k - 1, c] * decay
                level[k, channel[g]] += math.exp(IRRELEVANCE * phi * (1.0 - 2.0 * relevance[g]))
            lin_o0 = lin_k0 = 0.0
            llx0 = 0.0
            gx0[:] = 0.0
            for k in range(n):
                g = s0 + k
                c = channel[g]
                f = 0.0
                others = 0.0
                dfelt_h = 0.0
                for c2 in range(3):
                    coef = 1.0 if c2 == c else kappa
                    f += w[c2] * coef * level[k, c2]
                    dfelt_h += w[c2] * coef * dlevel[k, c2]
                    if c2 != c:
                        others += w[c2] * level[k, c2]
                felt[k] = f
                peak[i] = max(peak[i], f)
                for c2 in range(1, 3):
                    coef = 1.0 if c2 == c else kappa
                    d_felt[k, c2 - 1] = coef * w[c2] * level[k, c2]
                d_felt[k, 2] = kappa * (1.0 - kappa) * others
                d_felt[k, 3] = dfelt_h
                rel = phi * (2.0 * relevance[g] - 1.0)
                rel_k[k] = rel
                arg_o0[k] = par[OPEN + c] + ro * rel
                q_o0[k] = math.exp(min(arg_o0[k], BIG))
                if opened[g]:
                    lin_o0 += arg_o0[k]
                if wants_k[k]:
                    arg_k0[k] = par[CLICK + c] + rk * rel
                    q_k0[k] = math.exp(min(arg_k0[k], BIG))
                    if opened[g] and clicked[g]:
                        lin_k0 += arg_k0[k]
                s = share if c == 0 else 0.0
                ll, d, g_share, xh = _exit(par[EXIT + c] - rx * rel, exited[g], complained[g], s)
                x0[k, 0], x0[k, 1], x0[k, 2], x0[k, 3] = ll, d, g_share, xh
                llx0 += ll
                gx0[SHARE] += g_share
                gx0[EXIT + c] += d
                gx0[REL_X] -= d * rel
            for j in range(J):
                xj = tol_nodes[i, j]
                theta = math.exp(par[TOL_MU] + sigma * xj)
                inverse = 1.0 / theta
                llx = llx0
                gx[:] = gx0
                lin_o, lin_k = lin_o0, lin_k0
                top_o = top_k = -math.inf
                nf = 0
                for k in range(n):
                    g = s0 + k
                    ratio = felt[k] * inverse
                    if ratio > 1.0:
                        c = channel[g]
                        e = ratio - 1.0
                        e_k[k] = e
                        fat[nf] = k
                        nf += 1
                        rel = rel_k[k]
                        s = share if c == 0 else 0.0
                        ll, d, g_share, xh = _exit(
                            par[EXIT + c] + fx * e - rx * rel, exited[g], complained[g], s
                        )
                        llx += ll - x0[k, 0]
                        gx[SHARE] += g_share - x0[k, 2]
                        gx[EXIT + c] += d - x0[k, 1]
                        gx[REL_X] -= (d - x0[k, 1]) * rel
                        gx[FAT_X] += d * e
                        dh_x[k] = fx * d
                        arg_o[k] = arg_o0[k] - fo * e
                        q_o[k] = math.exp(min(arg_o[k], BIG))
                        if opened[g]:
                            lin_o -= fo * e
                        if wants_k[k]:
                            arg_k[k] = arg_k0[k] - fk * e
                            q_k[k] = math.exp(min(arg_k[k], BIG))
                            if opened[g] and clicked[g]:
                                lin_k -= fk * e
                        # d E / d (median, sigma, sms and push weights, cross, half-life)
                        d_of[k, 0] = -ratio
                        d_of[k, 1] = -ratio * sigma * xj
                        for q in range(4):
                            d_of[k, 2 + q] = d_felt[k, q] * inverse
                        xh_k = xh
                    else:
                        e_k[k] = 0.0
                        arg_o[k], q_o[k] = arg_o0[k], q_o0[k]
                        if wants_k[k]:
                            arg_k[k], q_k[k] = arg_k0[k], q_k0[k]
                        xh_k = x0[k, 3]
                    top_o = max(top_o, arg_o[k])
                    if wants_k[k]:
                        top_k = max(top_k, arg_k[k])
                    if predict:
                        for m in range(M):
                            node_p[(j * L + l_) * M + m, k, 2] = xh_k
                            node_p[(j * L + l_) * M + m, k, 3] = felt[k]
                block = j * L + l_
                for m in range(M):
                    z = eng_nodes[i, block, m]
                    node = block * M + m
                    # Open terms: sum over messages of y eta - log(1 + e^eta).
                    shift = eo * z
                    soft, so0, so1, so2, s_rel_o, s_fat_o = _responses(
                        everyone, arg_o, q_o, y_o, shift, math.exp(shift),
                        max(top_o, top_o + shift) > BIG, mine, rel_k, e_k, res_o,
                    )  # fmt: skip
                    ll = llx + lin_o + n_open * shift - soft
                    if predict:
                        for k in range(n):
                            node_p[node, k, 0] = y_o[k] - res_o[k]
                    sk0 = sk1 = sk2 = 0.0
                    s_rel_k = s_fat_k = 0.0
                    shift = ek * z
                    scale = math.exp(shift)
                    stable = max(top_k, top_k + shift) > BIG
                    if predict:
                        for k in range(n):
                            p = _logistic(arg_k[k], q_k[k], shift, scale, stable)[1]
                            node_p[node, k, 1] = node_p[node, k, 0] * p
                    if use_clicks:
                        soft, sk0, sk1, sk2, s_rel_k, s_fat_k = _responses(
                            shown, arg_k, q_k, y_k, shift, scale, stable, mine,
                            rel_k, e_k, res_k,
                        )  # fmt: skip
                        ll += lin_k + n_click * shift - soft
                    s_mu = s_sigma = s_w1 = s_w2 = s_cross = s_half = 0.0
                    for a in range(nf):
                        k = fat[a]
                        d_e = -fo * res_o[k] - fk * res_k[k] + dh_x[k]
                        s_mu += d_e * d_of[k, 0]
                        s_sigma += d_e * d_of[k, 1]
                        s_w1 += d_e * d_of[k, 2]
                        s_w2 += d_e * d_of[k, 3]
                        s_cross += d_e * d_of[k, 4]
                        s_half += d_e * d_of[k, 5]
                    gn = node_g[node]
                    for p_ in range(P):
                        gn[p_] = gx[p_]
                    gn[OPEN] += so0
                    gn[OPEN + 1] += so1
                    gn[OPEN + 2] += so2
                    gn[CLICK] += sk0
                    gn[CLICK + 1] += sk1
                    gn[CLICK + 2] += sk2
                    gn[REL_O] += s_rel_o
                    gn[FAT_O] -= s_fat_o
                    gn[ENG_O] += (so0 + so1 + so2) * z
                    gn[REL_K] += s_rel_k
                    gn[FAT_K] -= s_fat_k
                    gn[ENG_K] += (sk0 + sk1 + sk2) * z
                    gn[TOL_MU] += s_mu
                    gn[TOL_SIGMA] += s_sigma
                    gn[INTRUSIVE + 1] += s_w1
                    gn[INTRUSIVE + 2] += s_w2
                    gn[CROSS] += s_cross
                    gn[HALF] += s_half
                    weight = log_w_sens + tol_log_weight[i, j] + eng_log_weight[i, block, m]
                    node_ll[node] = ll + weight
        top = node_ll.max()
        total = 0.0
        for node in range(nodes):
            total += math.exp(node_ll[node] - top)
        log_l[i] = top + math.log(total)
        for block in range(J * L):
            block_top = node_ll[block * M]
            for m in range(1, M):
                block_top = max(block_top, node_ll[block * M + m])
            mass = first = second = 0.0
            for m in range(M):
                e = math.exp(node_ll[block * M + m] - block_top)
                z = eng_nodes[i, block, m]
                mass += e
                first += e * z
                second += e * z * z
            conditional[i, block, 0] = first / mass
            conditional[i, block, 1] = second / mass
            conditional[i, block, 2] = block_top + math.log(mass) - log_l[i]
        for node in range(nodes):
            post = math.exp(node_ll[node] - log_l[i])
            for p in range(P):
                grad[i, p] += post * node_g[node, p]
            if predict:
                for k in range(n):
                    for q in range(4):
                        predicted[s0 + k, q] += post * node_p[node, k, q]
    return log_l, grad, conditional, peak


def slots(names: tuple[str, ...]) -> np.ndarray:
    """Kernel slots of the named parameters."""
    return np.array([SLOTS.index(name) for name in names], dtype=np.int64)
