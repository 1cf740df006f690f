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


@njit(cache=True, parallel=True)
def member_terms(
    par, starts, counts, time, channel, relevance, opened, clicked, exited, complained,
    tol_nodes, tol_log_weight, eng_nodes, eng_log_weight, sens_nodes, use_clicks, predicted,
):  # fmt: skip
    """log L_i and d log L_i / d par for every member (rows), and the posterior mean and
    mean square of its engagement given each (tolerance, sensitivity) node (``conditional``,
    members x blocks x 2; block b = j * L + l).

    Each member has its own nodes: tolerance as standard-normal scores ``tol_nodes[i]``
    (theta = exp(mu + sigma x)) and, for each (tolerance, sensitivity) block b, engagement
    values ``eng_nodes[i, b]``, with log weights that already include the standard-normal
    density (sim.fitting.likelihood places them); sensitivity takes the values
    ``sens_nodes`` with equal weights.

    ``predicted`` (messages x 4), when it has a row per message, receives each message's
    probabilities of an open, a click and an exit, and the felt pressure, averaged over the
    member's posterior: the fitted values the diagnostics set beside the observed ones.
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
    x_rate = np.empty(3)
    for c in range(3):
        w[c] = math.exp(par[INTRUSIVE + c]) if c > 0 else 1.0
        x_rate[c] = math.exp(par[EXIT + c])
    fo, fk, fx = par[FAT_O], par[FAT_K], par[FAT_X]
    ro, rk, rx = par[REL_O], par[REL_K], par[REL_X]
    eo, ek = par[ENG_O], par[ENG_K]
    log_w_sens = -math.log(L)
    conditional = np.zeros((n_members, J * L, 2))
    peak = np.zeros(n_members)
    for i in prange(n_members):
        s0, n = starts[i], counts[i]
        nodes = J * L * M
        node_ll = np.empty(nodes)
        node_g = np.zeros((nodes, P))
        node_p = np.empty((nodes if predict else 0, n, 4))
        level = np.empty((n, 3))
        dlevel = np.empty((n, 3))
        rel_k = np.empty(n)
        e_k = np.empty(n)
        base_o = np.empty(n)
        base_k = np.empty(n)
        d_of = np.empty((n, 6))
        gx = np.empty(P)  # the exit terms' gradient at one (tolerance, sensitivity) node
        dh_x = np.empty(n)  # d ll_exit / d E at each message (0 where E = 0)
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
            for k in range(n):
                rel_k[k] = phi * (2.0 * relevance[s0 + k] - 1.0)
            for j in range(J):
                xj = tol_nodes[i, j]
                theta = math.exp(par[TOL_MU] + sigma * xj)
                # Exit terms do not depend on engagement: one pass per (j, l).
                llx = 0.0
                gx[:] = 0.0
                for k in range(n):
                    g = s0 + k
                    c = channel[g]
                    felt = 0.0
                    for c2 in range(3):
                        felt += w[c2] * (1.0 if c2 == c else kappa) * level[k, c2]
                    peak[i] = max(peak[i], felt)
                    ratio = felt / theta
                    e = ratio - 1.0 if ratio > 1.0 else 0.0
                    rel = phi * (2.0 * relevance[g] - 1.0)
                    log_h = fx * e - rx * rel
                    # P(exit) = min(1, x H), kept below 1 - CLIP so that staying has a
                    # log; where the clip binds, the exit no longer moves with H.
                    log_xh = math.log(x_rate[c]) + log_h
                    clipped = log_xh > LOG_TOP
                    if clipped:
                        log_xh = LOG_TOP
                    xh = math.exp(log_xh)
                    if predict:
                        for m in range(M):
                            node_p[(j * L + l_) * M + m, k, 2] = xh
                            node_p[(j * L + l_) * M + m, k, 3] = felt
                    if exited[g]:
                        s = share if c == 0 else 0.0
                        if complained[g]:
                            llx += math.log(s + 1e-300) + log_xh
                            gx[SHARE] += 1.0 - s
                        else:
                            llx += math.log1p(-s) + log_xh
                            gx[SHARE] -= s
                        d = 1.0
                    else:
                        llx += math.log1p(-xh)
                        d = -xh / (1.0 - xh)
                    if clipped:
                        d = 0.0
                    gx[EXIT + c] += d
                    gx[FAT_X] += d * e
                    gx[REL_X] -= d * rel
                    dh_x[k] = fx * d if ratio > 1.0 else 0.0
                # What does not depend on engagement, once per message.
                for k in range(n):
                    g = s0 + k
                    c = channel[g]
                    felt = 0.0
                    others = 0.0
                    dfelt_h = 0.0
                    for c2 in range(3):
                        coef = 1.0 if c2 == c else kappa
                        felt += w[c2] * coef * level[k, c2]
                        dfelt_h += w[c2] * coef * dlevel[k, c2]
                        if c2 != c:
                            others += w[c2] * level[k, c2]
                    ratio = felt / theta
                    base_o[k] = par[OPEN + c] + ro * rel_k[k]
                    base_k[k] = par[CLICK + c] + rk * rel_k[k]
                    if ratio > 1.0:
                        e_k[k] = ratio - 1.0
                        # d E / d (median, sigma, sms and push weights, cross, half-life)
                        d_of[k, 0] = -ratio
                        d_of[k, 1] = -ratio * sigma * xj
                        for c2 in range(1, 3):
                            coef = 1.0 if c2 == c else kappa
                            d_of[k, 1 + c2] = coef * w[c2] * level[k, c2] / theta
                        d_of[k, 4] = kappa * (1.0 - kappa) * others / theta
                        d_of[k, 5] = dfelt_h / theta
                    else:
                        e_k[k] = 0.0
                block = j * L + l_
                for m in range(M):
                    z = eng_nodes[i, block, m]
                    node = block * M + m
                    ll = llx
                    # Scalar accumulators: the compiled loop keeps them in registers.
                    so0 = so1 = so2 = sk0 = sk1 = sk2 = 0.0
                    s_rel_o = s_fat_o = s_rel_k = s_fat_k = 0.0
                    s_mu = s_sigma = s_w1 = s_w2 = s_cross = s_half = 0.0
                    for k in range(n):
                        g = s0 + k
                        c = channel[g]
                        e = e_k[k]
                        rel = rel_k[k]
                        eta = base_o[k] - fo * e + eo * z
                        ex = math.exp(-abs(eta))
                        if opened[g]:
                            ll += eta - max(eta, 0.0) - math.log1p(ex)
                            res_o = 1.0 - (1.0 / (1.0 + ex) if eta >= 0 else ex / (1.0 + ex))
                        else:
                            ll -= max(eta, 0.0) + math.log1p(ex)
                            res_o = -(1.0 / (1.0 + ex) if eta >= 0 else ex / (1.0 + ex))
                        if c == 0:
                            so0 += res_o
                        elif c == 1:
                            so1 += res_o
                        else:
                            so2 += res_o
                        s_rel_o += res_o * rel
                        s_fat_o += res_o * e
                        res_k = 0.0
                        if predict:
                            p_open = 1.0 / (1.0 + math.exp(-eta))
                            node_p[node, k, 0] = p_open
                            eta_k = base_k[k] - fk * e + ek * z
                            node_p[node, k, 1] = p_open / (1.0 + math.exp(-eta_k))
                        if use_clicks and opened[g]:
                            eta_k = base_k[k] - fk * e + ek * z
                            ex = math.exp(-abs(eta_k))
                            yk = 1.0 if clicked[g] else 0.0
                            ll += yk * eta_k - max(eta_k, 0.0) - math.log1p(ex)
                            res_k = yk - (1.0 / (1.0 + ex) if eta_k >= 0 else ex / (1.0 + ex))
                            if c == 0:
                                sk0 += res_k
                            elif c == 1:
                                sk1 += res_k
                            else:
                                sk2 += res_k
                            s_rel_k += res_k * rel
                            s_fat_k += res_k * e
                        if e > 0.0:
                            d_e = -fo * res_o - fk * res_k + dh_x[k]
                            s_mu += d_e * d_of[k, 0]
                            s_sigma += d_e * d_of[k, 1]
                            s_w1 += d_e * d_of[k, 2]
                            s_w2 += d_e * d_of[k, 3]
                            s_cross += d_e * d_of[k, 4]
                            s_half += d_e * d_of[k, 5]
                    gn = node_g[node]
                    for p in range(P):
                        gn[p] = gx[p]
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
