NAME        
ROWS
 N  COST
 E  R0      
 E  R1      
 E  R2      
 E  R3      
 E  R4      
 E  R5      
 L  R6      
 L  R7      
 L  R8      
 L  R9      
 L  R10     
 L  R11     
 L  R12     
 L  R13     
 L  R14     
 L  R15     
 L  R16     
 G  R17     
 G  R18     
 G  R19     
 G  R20     
 G  R21     
 G  R22     
 G  R23     
 G  R24     
 G  R25     
 G  R26     
 G  R27     
 G  R28     
 G  R29     
 G  R30     
 G  R31     
 G  R32     
 G  R33     
 G  R34     
 G  R35     
 G  R36     
 G  R37     
COLUMNS
    C0        COST      0.225
    C0        R0        1
    C0        R2        1
    C0        R6        1
    C1        COST      0.153
    C1        R0        1
    C1        R3        1
    C1        R7        1
    C2        COST      0.162
    C2        R0        1
    C2        R4        1
    C2        R8        1
    C3        COST      0.225
    C3        R1        1
    C3        R2        1
    C3        R9        1
    C4        COST      0.162
    C4        R1        1
    C4        R3        1
    C4        R10       1
    C5        COST      0.126
    C5        R1        1
    C5        R4        1
    C5        R11       1
    C6        R0        1
    C6        R12       1
    C7        R1        1
    C7        R13       1
    C8        R2        -1
    C8        R14       1
    C9        R3        -1
    C9        R15       1
    C10       R4        -1
    C10       R16       1
    MARK0000  'MARKER'                 'INTORG'
    C11       R5        -1
    C11       R6        -325
    C11       R17       1
    C11       R18       -1
    C11       R19       1
    C11       R20       1
    C11       R21       1
    C11       R22       1
    C11       R23       1
    C11       R24       -1
    C11       R25       1
    C11       R26       -1
    C11       R27       -1
    C11       R28       -1
    C11       R29       -1
    C11       R30       1
    C11       R31       -1
    C11       R32       1
    C11       R33       1
    C11       R34       -1
    C11       R35       -1
    C11       R36       1
    C11       R37       -1
    C12       R5        -1
    C12       R7        -300
    C12       R17       -1
    C12       R18       -1
    C12       R19       -1
    C12       R20       -1
    C12       R21       -1
    C12       R22       -1
    C12       R23       -1
    C12       R24       -1
    C12       R25       -1
    C12       R26       -1
    C12       R27       1
    C12       R28       1
    C12       R29       1
    C12       R30       -1
    C12       R31       -1
    C12       R32       -1
    C12       R33       -1
    C12       R34       1
    C12       R35       1
    C12       R36       -1
    C12       R37       1
    C13       R5        -1
    C13       R8        -275
    C13       R17       1
    C13       R18       1
    C13       R19       1
    C13       R20       1
    C13       R21       1
    C13       R22       1
    C13       R23       -1
    C13       R24       1
    C13       R25       -1
    C13       R26       1
    C13       R27       1
    C13       R28       1
    C13       R29       -1
    C13       R30       -1
    C13       R31       1
    C13       R32       -1
    C13       R33       -1
    C13       R34       -1
    C13       R35       -1
    C13       R36       -1
    C13       R37       -1
    C14       R5        -1
    C14       R9        -325
    C14       R17       -1
    C14       R18       -1
    C14       R19       -1
    C14       R20       -1
    C14       R21       -1
    C14       R22       -1
    C14       R23       -1
    C14       R24       -1
    C14       R25       -1
    C14       R26       1
    C14       R27       1
    C14       R28       -1
    C14       R29       1
    C14       R30       -1
    C14       R31       -1
    C14       R32       -1
    C14       R33       -1
    C14       R34       -1
    C14       R35       -1
    C14       R36       -1
    C14       R37       -1
    C15       R5        -1
    C15       R10       -300
    C15       R17       -1
    C15       R18       1
    C15       R19       1
    C15       R20       1
    C15       R21       1
    C15       R22       1
    C15       R23       1
    C15       R24       1
    C15       R25       1
    C15       R26       -1
    C15       R27       -1
    C15       R28       -1
    C15       R29       -1
    C15       R30       1
    C15       R31       1
    C15       R32       -1
    C15       R33       -1
    C15       R34       -1
    C15       R35       -1
    C15       R36       -1
    C15       R37       -1
    C16       R5        -1
    C16       R11       -275
    C16       R17       -1
    C16       R18       -1
    C16       R19       -1
    C16       R20       -1
    C16       R21       -1
    C16       R22       -1
    C16       R23       -1
    C16       R24       -1
    C16       R25       -1
    C16       R26       -1
    C16       R27       -1
    C16       R28       -1
    C16       R29       -1
    C16       R30       -1
    C16       R31       -1
    C16       R32       1
    C16       R33       1
    C16       R34       1
    C16       R35       1
    C16       R36       1
    C16       R37       1
    C17       R5        -1
    C17       R12       -350
    C17       R17       -1
    C17       R18       -1
    C17       R19       -1
    C17       R20       -1
    C17       R21       -1
    C17       R22       -1
    C17       R23       -1
    C17       R24       1
    C17       R25       1
    C17       R26       1
    C17       R27       -1
    C17       R28       -1
    C17       R29       1
    C17       R30       1
    C17       R31       1
    C17       R32       1
    C17       R33       -1
    C17       R34       -1
    C17       R35       1
    C17       R36       1
    C17       R37       1
    C18       R5        -1
    C18       R13       -600
    C18       R17       1
    C18       R18       1
    C18       R19       1
    C18       R20       -1
    C18       R21       1
    C18       R22       1
    C18       R23       1
    C18       R24       -1
    C18       R25       -1
    C18       R26       -1
    C18       R27       -1
    C18       R28       1
    C18       R29       -1
    C18       R30       1
    C18       R31       1
    C18       R32       -1
    C18       R33       1
    C18       R34       1
    C18       R35       -1
    C18       R36       1
    C18       R37       1
    C19       R5        -1
    C19       R14       -325
    C19       R17       1
    C19       R18       1
    C19       R19       -1
    C19       R20       1
    C19       R21       1
    C19       R22       1
    C19       R23       1
    C19       R24       1
    C19       R25       1
    C19       R26       1
    C19       R27       1
    C19       R28       1
    C19       R29       1
    C19       R30       1
    C19       R31       -1
    C19       R32       1
    C19       R33       1
    C19       R34       1
    C19       R35       1
    C19       R36       1
    C19       R37       -1
    C20       R5        -1
    C20       R15       -300
    C20       R17       1
    C20       R18       1
    C20       R19       1
    C20       R20       1
    C20       R21       -1
    C20       R22       1
    C20       R23       1
    C20       R24       1
    C20       R25       1
    C20       R26       1
    C20       R27       1
    C20       R28       1
    C20       R29       1
    C20       R30       1
    C20       R31       1
    C20       R32       1
    C20       R33       1
    C20       R34       1
    C20       R35       1
    C20       R36       -1
    C20       R37       1
    C21       R5        -1
    C21       R16       -275
    C21       R17       1
    C21       R18       1
    C21       R19       1
    C21       R20       1
    C21       R21       1
    C21       R22       -1
    C21       R23       1
    C21       R24       1
    C21       R25       1
    C21       R26       1
    C21       R27       1
    C21       R28       1
    C21       R29       1
    C21       R30       -1
    C21       R31       1
    C21       R32       1
    C21       R33       1
    C21       R34       1
    C21       R35       1
    C21       R36       1
    C21       R37       1
RHS
    RHS_V     R0        350
    RHS_V     R1        600
    RHS_V     R2        325
    RHS_V     R3        300
    RHS_V     R4        275
    RHS_V     R5        -5
    RHS_V     R17       -4
    RHS_V     R18       -4
    RHS_V     R19       -4
    RHS_V     R20       -4
    RHS_V     R21       -4
    RHS_V     R22       -4
    RHS_V     R23       -4
    RHS_V     R24       -4
    RHS_V     R25       -4
    RHS_V     R26       -4
    RHS_V     R27       -4
    RHS_V     R28       -4
    RHS_V     R29       -4
    RHS_V     R30       -4
    RHS_V     R31       -4
    RHS_V     R32       -4
    RHS_V     R33       -4
    RHS_V     R34       -4
    RHS_V     R35       -4
    RHS_V     R36       -4
    RHS_V     R37       -4
BOUNDS
 BV BOUND     C11     
 BV BOUND     C12     
 BV BOUND     C13     
 BV BOUND     C14     
 BV BOUND     C15     
 BV BOUND     C16     
 BV BOUND     C17     
 BV BOUND     C18     
 BV BOUND     C19     
 BV BOUND     C20     
 BV BOUND     C21     
ENDATA
