NAME          BAD
ROWS
 N  COST
 L  LIM1
 G  LIM2
COLUMNS
    X         LIM1      1e400
RHS
    RHS       LIM1      4.0        LIM2      1.0
ENDATA
