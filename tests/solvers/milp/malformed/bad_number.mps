NAME          BAD
ROWS
 N  COST
 L  LIM1
 G  LIM2
COLUMNS
    X         COST      1.2.3
RHS
    RHS       LIM1      4.0        LIM2      1.0
ENDATA
