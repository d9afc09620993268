"""What the companion plugin's journal hook costs a product save, in real WooCommerce.

    .venv/bin/python benchmarks/bench_companion.py [--saves 400] [--puts 80]

Needs the real-store kit (../shared/realstore, root); without it the section
says so and nothing is measured. Honours ONETILL_REALSTORE_PREFIX and the
port variables like the tests. Brings the store up, installs and activates
the plugin from its zip, measures, then resets the database, removes the
plugin and stops the store.

Two measures, each alternating blocks with and without the journal so that
drift (caches, the cron loop, other load on the machine) hits both alike:

* in PHP (one php-cli process): ``WC_Product::save()`` after a price change,
  with the journal's hooks registered vs removed (``remove_action``);
* end to end: ``PUT /wc/v3/products/{id}`` over https, plugin active vs
  deactivated.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests"), str(HERE.parent / "src")]

import companion_support as cs  # noqa: E402
import realstore_support as rs  # noqa: E402

QUICK = bool(os.environ.get("ONETILL_BENCH_QUICK"))
TITLE = "## Companion plugin: cost of the journal on a product save (bench_companion.py)"
PRODUCTS = list(range(100, 140))

_PHP = r"""
global $wp_filter;
$hooks = array();
foreach ( $wp_filter as $tag => $hook ) {
    foreach ( $hook->callbacks as $prio => $cbs ) {
        foreach ( $cbs as $cb ) {
            $f = $cb['function'];
            if ( is_array( $f ) && 'OneTill_Companion_Journal' === $f[0] ) {
                $hooks[] = array( $tag, $cb['function'], $prio, $cb['accepted_args'] );
            }
        }
    }
}
$ids = json_decode( '@IDS@' );
$saves = @SAVES@; $block = 1; $i = 0;
$times = array( 'on' => array(), 'off' => array(), 'warm' => array() );
// A warm-up (discarded), then saves alternating on/off in ABBA order: neighbours are pairs.
$order = array_fill( 0, 40, 'warm' );
for ( $b = 0; $b < intdiv( $saves, $block ); $b++ ) {
    $order[] = 0 === $b % 2 ? 'on' : 'off';
    $order[] = 0 === $b % 2 ? 'off' : 'on';
}
foreach ( $order as $mode ) {
    foreach ( $hooks as $h ) {
        if ( 'off' !== $mode ) {
            add_action( $h[0], $h[1], $h[2], $h[3] );
        } else {
            remove_action( $h[0], $h[1], $h[2] );
        }
    }
    for ( $k = 0; $k < $block; $k++, $i++ ) {
        $p = wc_get_product( $ids[ $i % count( $ids ) ] );
        $p->set_regular_price( (string) ( 10 + ( $i % 97 ) / 10 ) );
        $t = hrtime( true );
        $p->save();
        $times[ $mode ][] = ( hrtime( true ) - $t ) / 1e6;
    }
}
foreach ( $hooks as $h ) { add_action( $h[0], $h[1], $h[2], $h[3] ); }
$insert = array();
for ( $k = 0; $k < 500; $k++ ) {
    $t = hrtime( true );
    OneTill_Companion_Journal::write( 'product', 1, 0, 'upsert' );
    $insert[] = ( hrtime( true ) - $t ) / 1e6;
}
echo wp_json_encode( array( 'on' => $times['on'], 'off' => $times['off'], 'insert' => $insert,
    'hooks' => count( $hooks ) ) );
"""


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _puts(store: rs.RealStore, n: int) -> list[float]:
    out = []
    async with cs.client(store) as c:
        await c.get("products/100", {"_fields": "id"})  # connection and TLS set up
        for i in range(n):
            started = time.perf_counter()
            await c.put(
                f"products/{PRODUCTS[i % len(PRODUCTS)]}",
                json={"regular_price": f"{11 + i % 9}.50"},
            )
            out.append((time.perf_counter() - started) * 1000)
    return out


def measure(store: rs.RealStore, saves: int, puts: int) -> list[tuple[str, str]]:
    php = _PHP.replace("@IDS@", str(PRODUCTS)).replace("@SAVES@", str(saves))
    result = cs.wp_php(store, php, timeout=900)
    on, off, insert = result["on"], result["off"], result["insert"]
    rest: dict[str, list[float]] = {"on": [], "off": []}
    block = 10
    modes = [m for b in range(max(1, puts // block)) for m in (("on", "off"), ("off", "on"))[b % 2]]
    asyncio.run(_puts(store, block))  # warm-up, discarded
    for mode in modes:
        if mode == "on":
            cs.activate(store)
        else:
            cs.deactivate(store)
        rest[mode] += asyncio.run(_puts(store, block))
    cs.activate(store)
    med_on, med_off = statistics.median(on), statistics.median(off)
    paired = [a - b for a, b in zip(on, off, strict=True)]
    put_on, put_off = statistics.median(rest["on"]), statistics.median(rest["off"])
    return [
        ("journal hooks registered", str(result["hooks"])),
        (
            f"`WC_Product::save()` median, journal on ({len(on)} saves)",
            f"{med_on:.2f} ms (p90 {_pct(on, 0.9):.2f})",
        ),
        (
            f"`WC_Product::save()` median, journal off ({len(off)} saves)",
            f"{med_off:.2f} ms (p90 {_pct(off, 0.9):.2f})",
        ),
        ("difference of medians", f"{med_on - med_off:+.2f} ms"),
        (
            "median of paired differences (neighbouring saves, on - off)",
            f"{statistics.median(paired):+.2f} ms",
        ),
        (
            "one journal INSERT alone (500 inserts)",
            f"median {statistics.median(insert) * 1000:.0f} µs, "
            f"p90 {_pct(insert, 0.9) * 1000:.0f} µs",
        ),
        (
            f"`PUT /wc/v3/products/{{id}}` over https, plugin active ({len(rest['on'])})",
            f"median {put_on:.1f} ms",
        ),
        (
            f"`PUT /wc/v3/products/{{id}}` over https, plugin inactive ({len(rest['off'])})",
            f"median {put_off:.1f} ms",
        ),
        ("difference of medians (end to end)", f"{put_on - put_off:+.1f} ms"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--saves", type=int, default=100 if QUICK else 400)
    parser.add_argument("--puts", type=int, default=20 if QUICK else 80)
    args = parser.parse_args()
    reason = rs.skip_reason()
    if reason:
        print(f"{TITLE}\n\nNot measured: {reason}.")
        return
    store = rs.bring_up()
    try:
        cs.install_files(store)
        store.reset()
        cs.activate(store)
        rows = measure(store, args.saves, args.puts)
    finally:
        store.reset()
        cs.remove_files(store)
        # down.sh reports on stdout, which is this benchmark's Markdown.
        subprocess.run(
            [str(rs.kit_dir() / "down.sh"), str(rs.prefix_dir())], check=True, stdout=sys.stderr
        )
    print(f"{TITLE}\n")
    print(
        "Real WordPress 7.0.4 + WooCommerce 11.0.1 (the kit: nginx, php-fpm 8.2 with OPcache, "
        "MariaDB, all on this machine, shared with other work). In PHP, saves alternate "
        "with and without the journal's hooks (ABBA order, after a discarded warm-up); "
        "over REST, blocks of 10 PUTs alternate with the plugin active and deactivated. "
        "A save changes the regular price of one of 40 simple products. "
        "Target: the journal must not slow a product save noticeably (one INSERT).\n"
    )
    print("| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
