#!/usr/bin/env python3
"""FALLBACK Nexmark-like event generator, only for testing this harness.

The real data comes from `floe nexmark generate --events N --seed S --out DIR`.
Until that command exists, this writes the same three CSV files
(person.csv, auction.csv, bid.csv, each with a header line) with plausible
Nexmark-like contents:

* events interleaved in the proportions person:auction:bid = 1:3:46 (per block
  of 50 events), event time advancing by a fixed inter-event gap (--rate events
  per second of event time), so every file is in event-time order;
* ids start at 1000; auctions have a seller among the persons seen so far,
  category 10..14, an expiry a few seconds to a minute after creation;
* persons live in OR/ID/CA/WA/AZ/WY;
* half of the bids go to a "hot" auction (the newest auction id rounded down to a
  multiple of 100), the others to one of the 200 newest auctions; a quarter of
  the bidders and sellers are a "hot" person (the newest id rounded down to a
  multiple of 10), the others recent persons;
* prices in cents, Pareto-distributed (a long tail of high bids).

Timestamps are UTC text `YYYY-MM-DD HH:MM:SS.ffffff`; text fields with commas or
quotes are RFC-4180 quoted (the csv module does it).
"""
import argparse
import csv
import datetime as dt
import os
import random

FIRST_ID = 1000
STATES = ["OR", "ID", "CA", "WA", "AZ", "WY"]
CITIES = ["Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"]
FIRST_NAMES = ["Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"]
LAST_NAMES = ["Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"]
CHANNELS = ["Google", "Facebook", "Baidu", "Apple"]


def fmt(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S.%f")


def filler(rng: random.Random, n: int) -> str:
    # Mostly letters, sometimes a comma or a quote so that quoting is exercised.
    s = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(n))
    r = rng.random()
    if r < 0.02:
        s += ', "quoted"'
    elif r < 0.04:
        s += ",x"
    return s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rate", type=float, default=10_000.0, help="events per second of event time (default 10000)")
    ap.add_argument("--start", default="2026-04-01 10:00:00")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    rng = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)
    start = dt.datetime.strptime(a.start, "%Y-%m-%d %H:%M:%S")
    gap_us = 1_000_000.0 / a.rate
    files = {n: open(os.path.join(a.out, n + ".csv"), "w", newline="") for n in ("person", "auction", "bid")}
    w = {n: csv.writer(f, lineterminator="\n") for n, f in files.items()}
    w["person"].writerow(["id", "name", "email_address", "credit_card", "city", "state", "date_time", "extra"])
    w["auction"].writerow(["id", "item_name", "description", "initial_bid", "reserve", "date_time", "expires", "seller", "category", "extra"])
    w["bid"].writerow(["auction", "bidder", "price", "channel", "url", "date_time", "extra"])

    next_person = FIRST_ID
    next_auction = FIRST_ID
    counts = {"person": 0, "auction": 0, "bid": 0}
    for i in range(a.events):
        t = start + dt.timedelta(microseconds=int(i * gap_us))
        k = i % 50
        if k == 0 or next_person == FIRST_ID:
            pid = next_person
            next_person += 1
            name = rng.choice(FIRST_NAMES) + " " + rng.choice(LAST_NAMES)
            w["person"].writerow([pid, name, name.replace(" ", ".").lower() + "@example.com",
                                  " ".join("%04d" % rng.randrange(10000) for _ in range(4)),
                                  rng.choice(CITIES), rng.choice(STATES), fmt(t), filler(rng, rng.randrange(10, 40))])
            counts["person"] += 1
        elif k <= 3 or next_auction == FIRST_ID:
            aid = next_auction
            next_auction += 1
            # Sellers: mostly recent persons, hot sellers sometimes.
            if rng.random() < 0.25:
                seller = max(FIRST_ID, (next_person - 1) // 10 * 10)
            else:
                seller = rng.randrange(max(FIRST_ID, next_person - 100), next_person)
            initial = rng.randrange(100, 10_000)
            expires = t + dt.timedelta(milliseconds=rng.randrange(2_000, 60_000))
            w["auction"].writerow([aid, "item-%d" % aid, filler(rng, rng.randrange(10, 50)), initial,
                                   initial + rng.randrange(0, 5_000), fmt(t), fmt(expires), seller,
                                   10 + rng.randrange(5), filler(rng, rng.randrange(5, 30))])
            counts["auction"] += 1
        else:
            if rng.random() < 0.5:
                auction = max(FIRST_ID, (next_auction - 1) // 100 * 100)
            else:
                auction = rng.randrange(max(FIRST_ID, next_auction - 200), next_auction)
            if rng.random() < 0.25:
                bidder = max(FIRST_ID, (next_person - 1) // 10 * 10)
            else:
                bidder = rng.randrange(max(FIRST_ID, next_person - 200), next_person)
            price = int(rng.paretovariate(1.5) * 100)
            ch = rng.choice(CHANNELS)
            w["bid"].writerow([auction, bidder, price, ch, "https://www.nexmark.com/%s/item.htm?query=1&channel_id=%d" % (ch.lower(), rng.randrange(1000)),
                               fmt(t), filler(rng, rng.randrange(5, 30))])
            counts["bid"] += 1
    for f in files.values():
        f.close()
    print("fallback generator: %d events (%d persons, %d auctions, %d bids) in %s"
          % (a.events, counts["person"], counts["auction"], counts["bid"], a.out))


if __name__ == "__main__":
    main()
