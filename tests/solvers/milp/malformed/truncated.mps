NAME          BAD
ROWS
 N  COST
 L  LIM1
 G  LIM2
COLUMNS
    X         COST      1.0        LIM1      1.0
    Y         COST      2.0        LIM2      1.0
