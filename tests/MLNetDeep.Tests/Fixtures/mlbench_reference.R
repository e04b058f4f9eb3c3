# Makes mlbench_reference.json: what R itself reads from Debian's r-cran-mlbench data files, so the C# .rda reader
# (MLNetDeep.Datasets.Mlbench) is checked against R without R at test time.
# Run: Rscript tests/MLNetDeep.Tests/Fixtures/mlbench_reference.R > tests/MLNetDeep.Tests/Fixtures/mlbench_reference.json
sets <- c("LetterRecognition", "Satellite", "BostonHousing", "PimaIndiansDiabetes", "Glass", "BreastCancer")
q <- function(s) paste0('"', gsub('"', '\\\\"', s), '"')
num <- function(x) if (is.na(x)) "null" else sprintf("%.17g", x)
entries <- c()
for (s in sets) {
  e <- new.env()
  data(list = s, package = "mlbench", envir = e)
  d <- get(s, envir = e)
  cols <- c()
  for (n in names(d)) {
    x <- d[[n]]
    if (is.factor(x)) {
      counts <- table(x, useNA = "no")
      cols <- c(cols, sprintf('{"name": %s, "levels": [%s], "counts": [%s], "na": %d, "first": %s}', q(n),
        paste(sapply(levels(x), q), collapse = ", "), paste(as.integer(counts), collapse = ", "), sum(is.na(x)),
        if (is.na(x[1])) "null" else q(as.character(x[1]))))
    } else if (is.character(x)) {
      cols <- c(cols, sprintf('{"name": %s, "text": true, "na": %d, "distinct": %d, "first": %s}', q(n), sum(is.na(x)),
        length(unique(x[!is.na(x)])), if (is.na(x[1])) "null" else q(x[1])))
    } else {
      v <- as.numeric(x)
      cols <- c(cols, sprintf('{"name": %s, "sum": %s, "na": %d, "first": %s}', q(n), num(sum(v, na.rm = TRUE)), sum(is.na(v)), num(v[1])))
    }
  }
  entries <- c(entries, sprintf('  %s: {"rows": %d, "columns": [\n    %s]}', q(s), nrow(d), paste(cols, collapse = ",\n    ")))
}
cat("{\n", paste(entries, collapse = ",\n"), "\n}\n", sep = "")
