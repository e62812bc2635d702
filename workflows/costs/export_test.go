package costs

// Signed is signed, for the tests of package costs_test.
var Signed = signed
