package tfhe

// catalog lists the parameter sets, cheapest first (filled in below).
var catalog = []Params{}
