"""compare_results.py A.h5 B.h5 [rtol [skip]]: two trustbench results files record the same sweep.

Same statuses, seeds and swept values; metrics and curves equal bit for bit when rtol is 0, else within
rtol relative; the comma-separated metrics in skip are not compared (e.g. memory, which depends on the
rank layout by design). Exits non-zero with the first difference. Run with /usr/bin/python3.
"""
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
rtol = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
skip = sys.argv[4].split(",") if len(sys.argv) > 4 else []
for col in a["points"]:
    if col in ("wall_time",):
        continue
    if col in b["points"]:
        assert np.array_equal(a["points"][col][()], b["points"][col][()]), f"/points/{col} differs"
assert (a["points/status"][()] == 1).all(), f"not every point done: {a['points/status'][()]}"
for grp in ("metrics", "curves"):
    for name in a[grp]:
        if name in skip:
            continue
        x, y = a[grp][name][()], b[grp][name][()]
        if rtol == 0.0:
            assert np.array_equal(x, y, equal_nan=True), f"/{grp}/{name} differs: max |d| {np.nanmax(np.abs(x - y))}"
        else:
            assert np.allclose(x, y, rtol=rtol, atol=0, equal_nan=True), f"/{grp}/{name}: {np.nanmax(np.abs(x - y) / np.abs(y))}"
print("equal")
