"""Analysis: counts, redundancy, agreement, backprop listing, derivation checking, swell, lint."""
