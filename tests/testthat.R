library(testthat)
library(doodles)

test_check("doodles")
