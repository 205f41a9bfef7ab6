# Site frequency spectrum of 10 samples, 5 from each of two demes (dadi .fs format).
# Simulated from two_deme_sfs.phasic at coal = 1, mig = 0.3: Poisson counts around
# 2,000 expected segregating sites. Entries 0 and 10 (monomorphic) are masked.
#   node dist/cli.js fit examples/two_deme_sfs.phasic --data examples/two_deme_sfs.fs \
#        --sfs-reward xi --fit mig
11 unfolded "deme0+deme1"
0 587 314 245 198 260 141 100 81 70 0
1 0 0 0 0 0 0 0 0 0 1
