"""`./dev bench`: the side-by-side checkout benchmark, or `./dev bench recommendation` (the assistant).

Usage: ./dev bench [--quick] [--rounds 3] [--seconds 8] [--workers 1] [--database-url URL]
                   [--peer URL --peer-item ID] [--driver auto|wrk|python] [--only TEXT]
       ./dev bench recommendation [--products 100000] ...  (quality, per-turn latency)
"""

from __future__ import annotations

import sys

if __name__ == "__main__":
    if sys.argv[1:2] == ["recommendation"]:
        from benchmarks import recommendation

        sys.argv = [f"{sys.argv[0]} recommendation", *sys.argv[2:]]
        recommendation.main()
    else:
        from benchmarks import side_by_side

        side_by_side.main()
